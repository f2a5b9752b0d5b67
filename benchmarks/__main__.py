import sys

if sys.argv[1:2] == ["coldstart"]:
    from benchmarks.coldstart import main

    main(sys.argv[2:])
else:
    from benchmarks.run import main

    main()
