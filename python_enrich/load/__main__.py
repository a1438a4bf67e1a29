from python_enrich.load.cli import main

raise SystemExit(main())
