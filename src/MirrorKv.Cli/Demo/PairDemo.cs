using System.Diagnostics;
using MirrorKv.Client;

namespace MirrorKv.Cli.Demo;

/// <summary>
/// The main job: a primary and a secondary as child processes, a read/write workload, kill -9 of the
/// primary partway, the killed node restarted and rejoined, and a check of every acknowledged write at the
/// end. Exits 1 if a write was lost or a read returned a wrong value.
/// </summary>
internal sealed class PairDemo(PairDemoOptions options, TextWriter output)
{
    // Each node's region: the demo's default load takes a few MiB of it.
    private const string RegionSize = "256m";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private volatile string _phase = "pair protected";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Say("MirrorKv demo: a primary and a secondary as child processes, a read/write workload, and kill -9 of the primary.");
        await using PairLauncher pair = await PairLauncher.StartAsync(RegionSize, "sync", output);
        Say($"primary   {pair.Primary.EndPoint}   secondary {pair.Secondary.EndPoint} (sync replication, slabs taken top-down)");
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint], Secret = pair.Secret }, cancellationToken);
        if (!await client.WaitForSecondaryAsync(cancellationToken))
        {
            Say("the client could not reach the secondary");
            return 1;
        }

        client.PathChanged += path => Say(path switch
        {
            ClientPath.FailingOver => $"{Now} client: primary lost; reads go to the secondary as FAILOVER_READ with the primary's pointers",
            ClientPath.Secondary => $"{Now} client: reads are one-sided at the secondary with translated pointers",
            _ => $"{Now} client: the secondary was promoted (epoch {client.Epoch}); writes go to it, the pair is unprotected",
        });
        client.TableRewritten += (pointers, deltas) =>
            Say($"{Now} client: table rewritten from the secondary's translation ({pointers:N0} pointers, {deltas} distinct slab deltas)");

        var workload = new Workload(options.Keys, options.ValueSize, line => Say($"{Now} {line}"));
        if (!await workload.TryLoadAsync(client, cancellationToken))
        {
            Say($"error: the store is full (OutOfMemory): {options.Keys:N0} keys of {options.ValueSize:N0} B do not fit the demo nodes' --max-memory {RegionSize}; use fewer --keys or a smaller --value-size");
            return 2;
        }

        Say($"{Now} loaded {options.Keys:N0} keys of {options.ValueSize} B");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] workers = workload.Start(client, readers: 3, writers: 2, stop.Token);
        Task progress = ProgressAsync(client, workload, stop.Token);

        await Task.Delay(options.BeforeKill, cancellationToken);

        // Stalls are measured from the moment the process is known dead, so that nothing it served
        // on its way out is counted as served after the kill.
        await pair.Primary.KillAsync();
        workload.Mark();
        _phase = "primary killed, pair unprotected";
        Say($"{Now} kill -9 of the primary (process exited)");
        await Task.Delay(options.AfterKill / 3, cancellationToken);
        (double readStall, double writeStall) = workload.Stalls();

        // The killed node comes back as a secondary of the promoted one: slab copy, then the stream.
        var rejoinClock = Stopwatch.StartNew();
        Say($"{Now} restarting the killed node as a secondary of {pair.Secondary.EndPoint}");
        (_, Task caughtUp) = await pair.RestartAsSecondaryAsync(pair.Primary, pair.Secondary.EndPoint, RegionSize, output);
        await caughtUp.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        double rejoinMs = rejoinClock.Elapsed.TotalMilliseconds;
        _phase = "pair protected again";
        Say($"{Now} the restarted node copied the primary's slabs and caught up in {rejoinMs:F0} ms: the pair is protected again");
        await Task.Delay(options.AfterKill * 2 / 3, cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await progress;

        int lost = await workload.VerifyAsync(client, cancellationToken);
        ClientStats stats = client.Stats;
        Say("");
        Say("summary");
        Say($"  operations            {workload.Reads + workload.Writes,12:N0} ({workload.Reads:N0} reads, {workload.Writes:N0} acknowledged writes)");
        Say($"  writes lost           {lost,12:N0} (every acknowledged write checked on the surviving node: {workload.Keys:N0} keys)");
        Say($"  bad reads             {workload.BadReads,12:N0} (torn, stale after acknowledgement, or another key's value)");
        Say($"  read stall            {readStall,12:F1} ms (the primary's exit to the first successful read started after it)");
        Say($"  write stall           {writeStall,12:F1} ms (the primary's exit to the first acknowledged write started after it, epoch {client.Epoch})");
        Say($"  rejoin                {rejoinMs,12:F0} ms (restart of the killed node to caught up: slab copy and stream)");
        Say($"  failover reads        {stats.FailoverReads,12:N0} (FAILOVER_READ with primary pointers, before the rewrite)");
        Say($"  slab deltas           {stats.TranslationDeltas,12:N0} (distinct, in the translation the client rewrote its table with)");
        Say($"  writes failed         {workload.FailedWrites,12:N0} (Unavailable: no node could take them)");
        Say($"  reads failed          {workload.FailedReads,12:N0} (an error instead of a value: no read should fail because of a failover)");
        if (options.Json)
        {
            Say(DemoSummaryJson.Write(workload, lost, readStall, writeStall, rejoinMs, stats, client.Epoch));
        }

        return lost == 0 && workload.BadReads == 0 && workload.FailedReads == 0 ? 0 : 1;
    }

    private string Now => $"[{_clock.Elapsed.TotalSeconds,5:F2} s]";

    private async Task ProgressAsync(MirrorKvClient client, Workload workload, CancellationToken stop)
    {
        long lastReads = 0, lastWrites = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            long reads = workload.Reads, writes = workload.Writes;
            Say($"{Now} {(reads - lastReads) * 2,8:N0} reads/s {(writes - lastWrites) * 2,7:N0} writes/s   {_phase}, client path {client.Path}");
            (lastReads, lastWrites) = (reads, writes);
        }
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine(line);
        }
    }
}
