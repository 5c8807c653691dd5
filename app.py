"""Entry point: the page list (Home first, so the sidebar says "Home", not "app") and the router."""
import streamlit as st

PAGES = [st.Page("pages/home.py", title="Home", icon="🧭", default=True),
         st.Page("pages/1_Dialogues.py", title="Dialogues"),
         st.Page("pages/2_Hidden_states.py", title="Hidden states"),
         st.Page("pages/3_Senses.py", title="Senses"),
         st.Page("pages/4_Latent_walk.py", title="Latent walk"),
         st.Page("pages/5_Seed_claims.py", title="Seed claims"),
         st.Page("pages/6_Lessons.py", title="Lessons")]
st.navigation(PAGES).run()
