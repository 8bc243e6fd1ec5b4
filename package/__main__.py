from mcp_auth.cli import main

raise SystemExit(main())
