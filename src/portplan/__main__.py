from portplan.cli import main

main()
