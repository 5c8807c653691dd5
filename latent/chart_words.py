"""The charts' own words (titles, axis labels, legend entries) in the lesson languages, keyed by the English
text; the figure builders take ``lang`` (default ``"en"``) and pass their words through :func:`tr`.

Only the library's own words are here: a sense's name, a speaker, a prompt, a model's name or anything a
model wrote is a value filled into a template (``{…}``), never translated. A word with no entry stays English.

Example::

    >>> tr("Sense map at layer {layer} ({method}) · ★ = context steps", "de", layer=3, method="PCA")
    'Bedeutungskarte in Schicht 3 (PCA) · ★ = Kontextschritte'
    >>> tr("layer", "es"), tr("layer", "xx"), tr("not a chart word", "de")
    ('capa', 'layer', 'not a chart word')
"""
from __future__ import annotations

import string

CHART_LANGUAGES = ("en", "de", "es")

CHART_WORDS: dict[str, dict[str, str]] = {
    # shared
    "layer": {"de": "Schicht", "es": "capa"},
    "relative depth (0 = embeddings, 1 = last block)": {
        "de": "relative Tiefe (0 = Einbettungen, 1 = letzter Block)", "es": "profundidad relativa (0 = embeddings, 1 = último bloque)"},
    # Senses: the sense map, the context steps, the separation per layer
    "Sense map at layer {layer} ({method}) · ★ = context steps": {
        "de": "Bedeutungskarte in Schicht {layer} ({method}) · ★ = Kontextschritte",
        "es": "Mapa de sentidos en la capa {layer} ({method}) · ★ = pasos de contexto"},
    "context steps": {"de": "Kontextschritte", "es": "pasos de contexto"},
    "Do the senses of '{word}' separate? Per layer, against controls": {
        "de": "Trennen sich die Bedeutungen von „{word}“? Pro Schicht, gegen Kontrollen",
        "es": "¿Se separan los sentidos de «{word}»? Por capa, frente a controles"},
    "leave-one-out accuracy (nearest sense centroid)": {
        "de": "Leave-one-out-Trefferquote (nächster Bedeutungsschwerpunkt)",
        "es": "acierto leave-one-out (centroide de sentido más cercano)"},
    "silhouette (cosine)": {"de": "Silhouette (Kosinus)", "es": "silueta (coseno)"},
    "silhouette": {"de": "Silhouette", "es": "silueta"},
    "accuracy": {"de": "Trefferquote", "es": "acierto"},
    "{readout} readout": {"de": "Auslesung „{readout}“", "es": "lectura «{readout}»"},
    "control: {name}": {"de": "Kontrolle: {name}", "es": "control: {name}"},
    "null: shuffled senses, best layer, 95th pct": {
        "de": "Null: gemischte Bedeutungen, beste Schicht, 95. Perzentil",
        "es": "nulo: sentidos barajados, mejor capa, percentil 95"},
    "best layer {layer} (in-sample)": {"de": "beste Schicht {layer} (in der Stichprobe)",
                                       "es": "mejor capa {layer} (en la muestra)"},
    "Context steps at layer {layer}: a sense is named only above the dashed line (95 % of sense-free contexts)": {
        "de": "Kontextschritte in Schicht {layer}: eine Bedeutung wird erst über der gestrichelten Linie genannt "
              "(95 % der bedeutungsfreien Kontexte)",
        "es": "Pasos de contexto en la capa {layer}: un sentido se nombra solo por encima de la línea discontinua "
              "(95 % de los contextos sin sentido)"},
    "probability (fitted temperature)": {"de": "Wahrscheinlichkeit (angepasste Temperatur)",
                                         "es": "probabilidad (temperatura ajustada)"},
    "raw cosine to each sense": {"de": "roher Kosinus zu jeder Bedeutung", "es": "coseno bruto con cada sentido"},
    "{n} sense-free contexts": {"de": "{n} bedeutungsfreie Kontexte", "es": "{n} contextos sin sentido"},
    "unclear": {"de": "unklar", "es": "incierto"},
    "barely named": {"de": "knapp benannt", "es": "apenas nombrado"},
    "probability": {"de": "Wahrscheinlichkeit", "es": "probabilidad"},
    "cosine (centred)": {"de": "Kosinus (zentriert)", "es": "coseno (centrado)"},
    # Latent walk: the meters
    "Meters · layer {layer} · n = {n} per strength · KL: n = {k} prompt": {
        "de": "Messwerte · Schicht {layer} · n = {n} pro Stärke · KL: n = {k} Prompt",
        "es": "Medidores · capa {layer} · n = {n} por intensidad · KL: n = {k} prompt"},
    "Meters · layer {layer} · n = {n} per strength · KL: n = {k} prompts": {
        "de": "Messwerte · Schicht {layer} · n = {n} pro Stärke · KL: n = {k} Prompts",
        "es": "Medidores · capa {layer} · n = {n} por intensidad · KL: n = {k} prompts"},
    "concept change vs unsteered (↑ toward +pole)": {"de": "Konzeptänderung gegenüber ungesteuert (↑ zum +Pol)",
                                                    "es": "cambio de concepto frente a sin dirigir (↑ hacia el polo +)"},
    "distinct-2: share of distinct bigrams (1 = no repeats)": {
        "de": "distinct-2: Anteil verschiedener Bigramme (1 = keine Wiederholung)",
        "es": "distinct-2: proporción de bigramas distintos (1 = sin repeticiones)"},
    "typicality: mean log-prob under the unsteered model": {
        "de": "Typikalität: mittlere Log-Wahrscheinlichkeit im ungesteuerten Modell",
        "es": "tipicidad: log-prob media en el modelo sin dirigir"},
    "KL of the first token vs unsteered": {"de": "KL des ersten Tokens gegenüber ungesteuert",
                                           "es": "KL del primer token frente a sin dirigir"},
    "{n} random directions (mean ± 2 sd)": {"de": "{n} zufällige Richtungen (Mittel ± 2 SA)",
                                            "es": "{n} direcciones aleatorias (media ± 2 DE)"},
    "this direction (mean, 95 % CI)": {"de": "diese Richtung (Mittel, 95-%-KI)", "es": "esta dirección (media, IC 95 %)"},
    "{k} data-shaped null directions from neutral text (mean ± 2 sd)": {
        "de": "{k} datenförmige Nullrichtungen aus neutralem Text (Mittel ± 2 SD)",
        "es": "{k} direcciones nulas con forma de datos, de texto neutro (media ± 2 DE)"},
    "degenerate below": {"de": "darunter entartet", "es": "degenerado por debajo"},
    "strength (× layer norm)": {"de": "Stärke (× Schichtnorm)", "es": "intensidad (× norma de la capa)"},
    # Dialogues: the dialogue map
    "Dialogue map · {method} · {source}": {"de": "Dialogkarte · {method} · {source}",
                                           "es": "Mapa de diálogos · {method} · {source}"},
    "sentence encoder ({encoder})": {"de": "Satz-Encoder ({encoder})", "es": "codificador de frases ({encoder})"},
    "{model} layer {layer}, {pooling} pooling": {"de": "{model} Schicht {layer}, Pooling {pooling}",
                                                 "es": "{model} capa {layer}, agregación {pooling}"},
    "added (placed, not fitted)": {"de": "hinzugefügt (platziert, nicht angepasst)",
                                   "es": "añadido (colocado, no ajustado)"},
    "selected turn": {"de": "gewählter Beitrag", "es": "turno elegido"},
    # Hidden states: the token map
    "Token map · {model} · {method}": {"de": "Token-Karte · {model} · {method}", "es": "Mapa de tokens · {model} · {method}"},
    "{title} · layer {layer}": {"de": "{title} · Schicht {layer}", "es": "{title} · capa {layer}"},
    "paths across layers": {"de": "Pfade über die Schichten", "es": "trayectorias entre capas"},
    "placed, not fitted": {"de": "platziert, nicht angepasst", "es": "colocado, no ajustado"},
    "tokens": {"de": "Tokens", "es": "tokens"},
    "massive token": {"de": "massives Token", "es": "token masivo"},
    "massive token (norm > {m:g}× its layer's median)": {"de": "massives Token (Norm > {m:g}× Median seiner Schicht)",
                                                      "es": "token masivo (norma > {m:g}× la mediana de su capa)"},
    # Seed claims: the evidence chart and the lessons' claim charts
    "Findings: effect and 95 % interval (dot, bar) against the null (grey)": {
        "de": "Befunde: Effekt und 95-%-Intervall (Punkt, Balken) gegen die Null (grau)",
        "es": "Hallazgos: efecto e intervalo del 95 % (punto, barra) frente al nulo (gris)"},
    "null distribution (95 %)": {"de": "Nullverteilung (95 %)", "es": "distribución nula (95 %)"},
    "null / control band (judged)": {"de": "Null-/Kontrollband (bewertet)", "es": "banda nula / de control (juzgada)"},
    "null value (judged)": {"de": "Nullwert (bewertet)", "es": "valor nulo (juzgado)"},
    "target (the claim's own size)": {"de": "Ziel (die Größe der Behauptung)", "es": "objetivo (el tamaño de la afirmación)"},
    "How concentrated a row of the matrix is · vocabulary {vocab} · n = {n}": {
        "de": "Wie konzentriert eine Zeile der Matrix ist · Vokabular {vocab} · n = {n}",
        "es": "Cuán concentrada está una fila de la matriz · vocabulario {vocab} · n = {n}"},
    "top-{k} mass of each row": {"de": "Top-{k}-Masse jeder Zeile", "es": "masa top-{k} de cada fila"},
    "next-token entropy (nats)": {"de": "Entropie des nächsten Tokens (nats)", "es": "entropía del siguiente token (nats)"},
    "real prompts": {"de": "echte Prompts", "es": "prompts reales"},
    "same words shuffled": {"de": "dieselben Wörter gemischt", "es": "mismas palabras barajadas"},
    "random-token gibberish": {"de": "Kauderwelsch aus Zufallstokens", "es": "galimatías de tokens aleatorios"},
    "ordinary concept": {"de": "gewöhnliches Konzept", "es": "concepto corriente"},
    "unlikely concept": {"de": "unwahrscheinliches Konzept", "es": "concepto improbable"},
    "uniform row ({u})": {"de": "gleichverteilte Zeile ({u})", "es": "fila uniforme ({u})"},
    "probability mass": {"de": "Wahrscheinlichkeitsmasse", "es": "masa de probabilidad"},
    "{sender} → {receiver} · dotted line in (c): chance {chance}": {
        "de": "{sender} → {receiver} · gepunktete Linie in (c): Zufall {chance}",
        "es": "{sender} → {receiver} · línea punteada en (c): azar {chance}"},
    "(a) CKA by depth": {"de": "(a) CKA nach Tiefe", "es": "(a) CKA por profundidad"},
    "(b) receiver agrees with itself": {"de": "(b) Empfänger stimmt mit sich selbst überein",
                                        "es": "(b) el receptor coincide consigo mismo"},
    "(c) queen sense recovered": {"de": "(c) Bedeutung von queen wiedergefunden", "es": "(c) sentido de queen recuperado"},
    "shuffled pairings (95 %)": {"de": "gemischte Paarungen (95 %)", "es": "emparejamientos barajados (95 %)"},
    "random-init sender": {"de": "zufällig initialisierter Sender", "es": "emisor con inicialización aleatoria"},
    "trained sender": {"de": "trainierter Sender", "es": "emisor entrenado"},
    "message via fitted map": {"de": "Nachricht über angepasste Abbildung", "es": "mensaje por el mapa ajustado"},
    "message via shuffled-pairs map (null)": {"de": "Nachricht über Abbildung aus gemischten Paaren (Null)",
                                              "es": "mensaje por el mapa de pares barajados (nulo)"},
    "sense via fitted map": {"de": "Bedeutung über angepasste Abbildung", "es": "sentido por el mapa ajustado"},
    "sense via shuffled-pairs map (null)": {"de": "Bedeutung über Abbildung aus gemischten Paaren (Null)",
                                            "es": "sentido por el mapa de pares barajados (nulo)"},
    "receiver's own": {"de": "Empfänger selbst", "es": "propio del receptor"},
    "receiver's own states (ceiling)": {"de": "eigene Zustände des Empfängers (Obergrenze)",
                                        "es": "estados propios del receptor (techo)"},
    "the word as text": {"de": "das Wort als Text", "es": "la palabra como texto"},
    "layer-0 map (no context)": {"de": "Abbildung aus Schicht 0 (ohne Kontext)", "es": "mapa de la capa 0 (sin contexto)"},
    "receiver's mean state (floor)": {"de": "mittlerer Zustand des Empfängers (Untergrenze)",
                                      "es": "estado medio del receptor (suelo)"},
    "message, words seen while fitting (n = {n})": {"de": "Nachricht, beim Anpassen gesehene Wörter (n = {n})",
                                                    "es": "mensaje, palabras vistas al ajustar (n = {n})"},
    "message, words never seen (n = {n})": {"de": "Nachricht, nie gesehene Wörter (n = {n})",
                                            "es": "mensaje, palabras nunca vistas (n = {n})"},
    "UTF-8 bytes of a turn": {"de": "UTF-8-Bytes eines Beitrags", "es": "bytes UTF-8 de un turno"},
    "relative depth": {"de": "relative Tiefe", "es": "profundidad relativa"},
    "message bytes (k × 4)": {"de": "Nachrichtenbytes (k × 4)", "es": "bytes del mensaje (k × 4)"},
    # hover text, shared
    "step {step}: {what}": {"de": "Schritt {step}: {what}", "es": "paso {step}: {what}"},
    "turn {turn}": {"de": "Beitrag {turn}", "es": "turno {turn}"},
    "prompt {i}: {what}": {"de": "Prompt {i}: {what}", "es": "indicación {i}: {what}"},
    "position": {"de": "Position", "es": "posición"},
    "placed text (not fitted)": {"de": "platzierter Text (nicht angepasst)", "es": "texto colocado (no ajustado)"},
    "effect": {"de": "Effekt", "es": "efecto"},
    "effect (n = {n})": {"de": "Effekt (n = {n})", "es": "efecto (n = {n})"},
    "agreement": {"de": "Übereinstimmung", "es": "coincidencia"},
    # Senses: reliability and the probability heatmap
    "Reliability at layer {layer}: ECE {ece} (a calibrated model at n={n} reaches up to {null})": {
        "de": "Verlässlichkeit in Schicht {layer}: ECE {ece} (ein kalibriertes Modell erreicht bei n={n} bis zu {null})",
        "es": "Fiabilidad en la capa {layer}: ECE {ece} (un modelo calibrado con n={n} llega hasta {null})"},
    "perfect calibration": {"de": "perfekte Kalibrierung", "es": "calibración perfecta"},
    "held-out sentences": {"de": "zurückgehaltene Sätze", "es": "frases reservadas"},
    "stated probability of the top sense": {"de": "angegebene Wahrscheinlichkeit der besten Bedeutung",
                                            "es": "probabilidad declarada del sentido principal"},
    "fraction correct": {"de": "Anteil richtig", "es": "fracción correcta"},
    "P({target}) at every layer, for each context step": {"de": "P({target}) in jeder Schicht, für jeden Kontextschritt",
                                                         "es": "P({target}) en cada capa, para cada paso de contexto"},
    # Latent walk: the steered map and the interpolation path
    "Where the steered texts land · x = along {label}": {"de": "Wo die gesteuerten Texte landen · x = entlang {label}",
                                                        "es": "Dónde caen los textos dirigidos · x = a lo largo de {label}"},
    "along the direction ({label})": {"de": "entlang der Richtung ({label})", "es": "a lo largo de la dirección ({label})"},
    "first principal component of the rest": {"de": "erste Hauptkomponente des Rests",
                                              "es": "primera componente principal del resto"},
    "positive pole": {"de": "positiver Pol", "es": "polo positivo"},
    "negative pole": {"de": "negativer Pol", "es": "polo negativo"},
    "baseline": {"de": "Basislinie", "es": "línea base"},
    "steered generations": {"de": "gesteuerte Generierungen", "es": "generaciones dirigidas"},
    "strength": {"de": "Stärke", "es": "intensidad"},
    "Interpolation path on the hidden-state map (layer {layer}, PCA)": {
        "de": "Interpolationspfad auf der Karte der verborgenen Zustände (Schicht {layer}, PCA)",
        "es": "Trayectoria de interpolación en el mapa de estados ocultos (capa {layer}, PCA)"},
    "tokens of {what}": {"de": "Tokens von {what}", "es": "tokens de {what}"},
    "walk A → B": {"de": "Weg A → B", "es": "camino A → B"},
    # Home: the tour map
    "Every turn of the five seed texts is a point; every conversation is a path": {
        "de": "Jeder Beitrag der fünf Ausgangstexte ist ein Punkt; jedes Gespräch ist ein Pfad",
        "es": "Cada turno de los cinco textos semilla es un punto; cada conversación es un camino"},
    "Start: “{title}”": {"de": "Anfang: „{title}“", "es": "Inicio: «{title}»"},
    "End: “{title}”": {"de": "Ende: „{title}“", "es": "Fin: «{title}»"},
    "The first turn that says “queen”": {"de": "Der erste Beitrag, der „queen“ sagt", "es": "El primer turno que dice «queen»"},
    "closest pair from two texts": {"de": "nächstes Paar aus zwei Texten", "es": "par más cercano de dos textos"},
    "Closest pair from two texts (cosine {cos})": {"de": "Nächstes Paar aus zwei Texten (Kosinus {cos})",
                                                   "es": "Par más cercano de dos textos (coseno {cos})"},
    # Hidden states: the logit lens
    "Logit lens · {model}": {"de": "Logit-Linse · {model}", "es": "Lente de logits · {model}"},
    "top": {"de": "oben", "es": "primero"},
    "of final token": {"de": "des letzten Tokens", "es": "del token final"},
    # Seed claims: quantised cousins
    "Quantised cousins against fp32 · n = {n} prompts · grey band: fp32-copy floor": {
        "de": "Quantisierte Verwandte gegen fp32 · n = {n} Prompts · graues Band: Untergrenze der fp32-Kopie",
        "es": "Primos cuantizados frente a fp32 · n = {n} prompts · banda gris: suelo de la copia fp32"},
    "continuation differs from fp32": {"de": "Fortsetzung weicht von fp32 ab", "es": "la continuación difiere de fp32"},
    "first word agrees with fp32": {"de": "erstes Wort stimmt mit fp32 überein", "es": "la primera palabra coincide con fp32"},
    "differs (95 % exact interval)": {"de": "weicht ab (exaktes 95-%-Intervall)", "es": "difiere (intervalo exacto del 95 %)"},
    "first-word agreement": {"de": "Übereinstimmung im ersten Wort", "es": "coincidencia de la primera palabra"},
    # Seed claims: computational economy
    "MLP activation economy · {n} prompts, {k} probes": {"de": "Sparsamkeit der MLP-Aktivierung · {n} Prompts, {k} Sonden",
                                                         "es": "Economía de activación MLP · {n} prompts, {k} sondas"},
    "active fraction (τ = {tau})": {"de": "aktiver Anteil (τ = {tau})", "es": "fracción activa (τ = {tau})"},
    "r(density, entropy) by τ": {"de": "r(Dichte, Entropie) nach τ", "es": "r(densidad, entropía) según τ"},
    "top-1 survives ablation": {"de": "Top-1 übersteht die Ablation", "es": "el top-1 sobrevive a la ablación"},
    "active fraction (|a| > τ·RMS)": {"de": "aktiver Anteil (|a| > τ·RMS)", "es": "fracción activa (|a| > τ·RMS)"},
    "a Gaussian vector": {"de": "ein gaußscher Vektor", "es": "un vector gaussiano"},
    "r under shuffled pairing (95 %)": {"de": "r bei gemischter Paarung (95 %)", "es": "r con emparejamiento barajado (95 %)"},
    "Spearman r (95 % bootstrap)": {"de": "Spearman-r (95-%-Bootstrap)", "es": "r de Spearman (bootstrap del 95 %)"},
    "keep k largest |a|": {"de": "k größte |a| behalten", "es": "conservar las k mayores |a|"},
    "keep k random": {"de": "k zufällige behalten", "es": "conservar k al azar"},
    "neurons kept per block (k)": {"de": "behaltene Neuronen pro Block (k)", "es": "neuronas conservadas por bloque (k)"},
    # Seed claims: reasoning as steering
    "Does the answer word in the reasoning raise the answer? · n = {n}, {k} reasonings contain it": {
        "de": "Hebt das Antwortwort in der Begründung die Antwort? · n = {n}, {k} Begründungen enthalten es",
        "es": "¿La palabra de la respuesta en el razonamiento eleva la respuesta? · n = {n}, {k} razonamientos la contienen"},
    "answer log-probability (nats): solid correct, hatched wrong": {
        "de": "Log-Wahrscheinlichkeit der Antwort (nats): voll richtig, schraffiert falsch",
        "es": "log-probabilidad de la respuesta (nats): sólida correcta, rayada incorrecta"},
    "greedy answer correct (share)": {"de": "gierige Antwort richtig (Anteil)", "es": "respuesta voraz correcta (proporción)"},
    "the correct answer": {"de": "die richtige Antwort", "es": "la respuesta correcta"},
    "a wrong answer (another question's)": {"de": "eine falsche Antwort (die einer anderen Frage)",
                                            "es": "una respuesta incorrecta (la de otra pregunta)"},
    "accuracy (95 % exact)": {"de": "Trefferquote (exakt, 95 %)", "es": "acierto (exacto, 95 %)"},
    # Seed claims: reuse vs recomputation
    "Caching: computed cost (open markers) and measured time (filled) · Q = {q}": {
        "de": "Caching: berechnete Kosten (offene Marker) und gemessene Zeit (gefüllt) · Q = {q}",
        "es": "Caché: coste calculado (marcadores huecos) y tiempo medido (rellenos) · Q = {q}"},
    "computed cost (MACs)": {"de": "berechnete Kosten (MACs)", "es": "coste calculado (MACs)"},
    "measured wall time (this CPU)": {"de": "gemessene Laufzeit (diese CPU)", "es": "tiempo real medido (esta CPU)"},
    "no cache": {"de": "kein Cache", "es": "sin caché"},
    "KV cache per question": {"de": "KV-Cache pro Frage", "es": "caché KV por pregunta"},
    "persistent history cache": {"de": "dauerhafter Verlaufs-Cache", "es": "caché persistente del historial"},
    "analytic": {"de": "analytisch", "es": "analítico"},
    "measured": {"de": "gemessen", "es": "medido"},
    "conversation history (tokens)": {"de": "Gesprächsverlauf (Tokens)", "es": "historial de la conversación (tokens)"},
    "GMACs, {q} question(s) × {k} tokens": {"de": "GMACs, {q} Frage(n) × {k} Tokens", "es": "GMACs, {q} pregunta(s) × {k} tokens"},
    "seconds (median of repeats)": {"de": "Sekunden (Median der Wiederholungen)", "es": "segundos (mediana de repeticiones)"},
    # Seed claims: sparse messages
    "Fidelity against message size · layer {layer} · n = {n} prompts": {
        "de": "Treue gegen Nachrichtengröße · Schicht {layer} · n = {n} Prompts",
        "es": "Fidelidad frente al tamaño del mensaje · capa {layer} · n = {n} prompts"},
    "{basis} basis": {"de": "Basis {basis}", "es": "base {basis}"},
    "standard": {"de": "Standard", "es": "estándar"},
    "pca": {"de": "PCA", "es": "PCA"},
    "mean": {"de": "Mittelwert", "es": "media"},
    "mean state (floor)": {"de": "mittlerer Zustand (Untergrenze)", "es": "estado medio (suelo)"},
    "zero state (floor)": {"de": "Nullzustand (Untergrenze)", "es": "estado cero (suelo)"},
    "{name}: 95 % band": {"de": "{name}: 95-%-Band", "es": "{name}: banda del 95 %"},
    "UTF-8 bytes of the text": {"de": "UTF-8-Bytes des Textes", "es": "bytes UTF-8 del texto"},
    "message size in bytes (k × (2-byte index + fp16 value))": {
        "de": "Nachrichtengröße in Bytes (k × (2-Byte-Index + fp16-Wert))",
        "es": "tamaño del mensaje en bytes (k × (índice de 2 bytes + valor fp16))"},
    "top-1 agreement with the full state": {"de": "Top-1-Übereinstimmung mit dem vollen Zustand",
                                            "es": "coincidencia top-1 con el estado completo"},
    # Concepts: a feature's density histogram, the features beside the other views
    "Feature {f}: fires on {fired} of {n} probe tokens ({share})": {
        "de": "Merkmal {f}: aktiv auf {fired} von {n} Sonden-Tokens ({share})",
        "es": "Rasgo {f}: se activa en {fired} de {n} tokens de sondeo ({share})"},
    "activation": {"de": "Aktivierung", "es": "activación"},
    "mean activation": {"de": "mittlere Aktivierung", "es": "activación media"},
    "feature": {"de": "Merkmal", "es": "rasgo"},
    "Top features of token {token} at layer {layer}": {"de": "Stärkste Merkmale des Tokens {token} in Schicht {layer}",
                                                        "es": "Rasgos principales del token {token} en la capa {layer}"},
    "Most active features of this text at layer {layer} · n = {n} tokens": {
        "de": "Aktivste Merkmale dieses Texts in Schicht {layer} · n = {n} Tokens",
        "es": "Rasgos más activos de este texto en la capa {layer} · n = {n} tokens"},
    "Features on '{word}' per sense at layer {layer}": {"de": "Merkmale auf „{word}“ je Bedeutung in Schicht {layer}",
                                                         "es": "Rasgos sobre «{word}» por sentido en la capa {layer}"},
    "sense {sense} · n = {n} sentences": {"de": "Bedeutung {sense} · n = {n} Sätze", "es": "sentido {sense} · n = {n} frases"},
}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


# every word in every language, with the same fields to fill
assert all(set(w) == set(CHART_LANGUAGES) - {"en"} for w in CHART_WORDS.values()), "a chart word lacks a language"
assert all(_fields(v) == _fields(k) for k, w in CHART_WORDS.items() for v in w.values()), "a translation's fields differ"


def tr(text: str, lang: str = "en", **values) -> str:
    """The chart word ``text`` (its English, the table's key) in ``lang``, filled with ``values``; English where
    the language or the word has no entry. Values are filled in as they are (names and model text stay)."""
    own = CHART_WORDS.get(text, {}).get(lang) if lang != "en" else None
    out = own or text
    return out.format(**values) if values else out
