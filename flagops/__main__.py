from flagops.cli import main

main()
