using BenchmarkDotNet.Running;
using MirrorKv.Benchmarks.Memory;
using MirrorKv.Cli.Simulation;

// "memory" measures bytes per entry against redis-server, "alloc" the read and write paths' allocations,
// "cluster-sim" what many pairs cost etcd, nodes and clients (docs/scale-out.md); anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "memory")
{
    return await MemoryPerEntry.RunAsync(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "alloc")
{
    return await HotPathAllocations.RunAsync(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "cluster-sim")
{
    return await ClusterSimulation.RunAsync(args[1..], Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(MemoryPerEntry).Assembly).Run(args);
return 0;
