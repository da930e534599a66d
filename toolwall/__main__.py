from toolwall.cli import main

raise SystemExit(main())
