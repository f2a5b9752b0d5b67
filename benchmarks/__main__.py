import sys

if sys.argv[1:2] == ["coldstart"]:
    from benchmarks.coldstart import main

    main(sys.argv[2:])
elif sys.argv[1:2] == ["scale"]:
    from benchmarks.scale import main

    main(sys.argv[2:])
elif sys.argv[1:2] == ["anchors"]:
    from benchmarks.anchors import main

    main(sys.argv[2:])
elif sys.argv[1:2] == ["contention"]:
    from benchmarks.contention import main

    main(sys.argv[2:])
elif sys.argv[1:2] == ["pydataset"]:
    from benchmarks.pydataset_epoch import main

    main(sys.argv[2:])
else:
    from benchmarks.run import main

    main()
