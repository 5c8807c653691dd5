import sys

from latent.cli import main

sys.exit(main())
