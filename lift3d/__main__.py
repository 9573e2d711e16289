import sys

from lift3d.cli.main import main

sys.exit(main())
