from python_enrich.drain.cli import main

raise SystemExit(main())
