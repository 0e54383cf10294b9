from callpath.cli import main

main()
