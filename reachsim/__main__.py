from reachsim.cli import main

raise SystemExit(main())
