using BenchmarkDotNet.Running;
using MirrorKv.Benchmarks.Memory;

// "memory" measures bytes per entry against redis-server, "alloc" the read path's allocations; anything
// else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "memory")
{
    return await MemoryPerEntry.RunAsync(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "alloc")
{
    return await ReadPathAllocations.RunAsync(args[1..], Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(MemoryPerEntry).Assembly).Run(args);
return 0;
