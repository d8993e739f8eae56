from dbapp._entry import main

main()
