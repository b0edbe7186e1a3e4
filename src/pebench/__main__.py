from pebench.cli import main

main()
