from wildeye.cli import main

main()
