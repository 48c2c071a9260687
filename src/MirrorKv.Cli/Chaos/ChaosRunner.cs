using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MirrorKv.Client;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// Kills the primary or the secondary with SIGKILL at random moments under a checked workload, restarts
/// the killed node as secondary of the survivor, waits until it caught up, and repeats. At the end every
/// acknowledged write is checked on the primary of the day. Exits 1 on a lost write or a bad read.
/// </summary>
internal sealed partial class ChaosRunner(ChaosOptions options, TextWriter output)
{
    private const string RegionSize = "64m";
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>The figures of the last run, for callers that report them (bench --failover).</summary>
    public ChaosResult? Result { get; private set; }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        Say($"chaos: {options.Cycles} cycles, seed {options.Seed}, {options.Keys:N0} keys");
        await using PairLauncher pair = await PairLauncher.StartAsync(RegionSize, "sync", output);
        PairLauncher.ChildNode primary = pair.Primary, secondary = pair.Secondary;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { PrimaryEndPoint = primary.EndPoint, Secret = pair.Secret }, cancellationToken);
        await client.WaitForSecondaryAsync(cancellationToken);
        var workload = new Workload(options.Keys, 100, line => Say(line));
        await workload.LoadAsync(client, cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] workers = workload.Start(client, readers: 2, writers: 2, stop.Token);

        var readStalls = new List<double>();
        var writeStalls = new List<double>();
        var rejoins = new List<(double Ms, int Slabs, double CopyMs)>();
        for (int cycle = 1; cycle <= options.Cycles; cycle++)
        {
            await Task.Delay(random.Next(100, 500), cancellationToken);
            bool killPrimary = options.PrimaryOnly || random.Next(2) == 0;
            PairLauncher.ChildNode victim = killPrimary ? primary : secondary;
            await victim.KillAsync();
            workload.Mark();
            if (killPrimary)
            {
                (primary, secondary) = (secondary, primary);
            }

            // The survivor is (or becomes) the primary; the killed node comes back as its secondary.
            var rejoinClock = Stopwatch.StartNew();
            Task caughtUpLine;
            (secondary, caughtUpLine) = await pair.RestartAsSecondaryAsync(victim, primary.EndPoint, RegionSize, output);
            string caughtUp = await caughtUpLine.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ContinueWith(_ => secondary.LastLineContaining("caught up"), TaskScheduler.Default);
            double rejoinMs = rejoinClock.Elapsed.TotalMilliseconds;
            Match copied = CopiedSlabs().Match(caughtUp);
            rejoins.Add((rejoinMs, copied.Success ? int.Parse(copied.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
                copied.Success ? double.Parse(copied.Groups[2].Value, CultureInfo.InvariantCulture) : double.NaN));
            (double readMs, double writeMs) = workload.Stalls();
            if (killPrimary)
            {
                readStalls.Add(readMs);
                writeStalls.Add(writeMs);
            }

            Say($"cycle {cycle,3}: killed the {(killPrimary ? "primary  " : "secondary")}; read stall {readMs,7:F1} ms, write stall {writeMs,7:F1} ms; rejoined in {rejoinMs,6:F0} ms; {workload.Writes:N0} writes acknowledged, {workload.BadReads} bad reads");
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        int lost = await workload.VerifyAsync(client, cancellationToken);
        Say("");
        Say("summary");
        Say($"  cycles                {options.Cycles,12:N0} ({readStalls.Count} primary kills, {options.Cycles - readStalls.Count} secondary kills)");
        Say($"  acknowledged writes   {workload.Writes,12:N0}");
        Say($"  writes lost           {lost,12:N0}");
        Say($"  reads checked         {workload.Reads,12:N0}");
        Say($"  bad reads             {workload.BadReads,12:N0}");
        Say($"  writes failed         {workload.FailedWrites,12:N0} (Unavailable)");
        Say($"  read stall            {Percentiles(readStalls)} (primary's exit to the first good read started after it)");
        Say($"  write stall           {Percentiles(writeStalls)} (primary's exit to the first acknowledged write started after it)");
        double gib = rejoins.Sum(r => (double)r.Slabs) / 1024;
        double copySeconds = rejoins.Sum(r => r.CopyMs) / 1000;
        Say($"  rejoin                {Percentiles(rejoins.Select(r => r.Ms).ToList())} (restart of the killed process to caught up, process start included)");
        Say($"  slab copy             {rejoins.Average(r => r.Slabs),12:F1} slabs of 1 MiB per rejoin on average, {(gib > 0 ? copySeconds / gib : double.NaN):F2} s per GiB of claimed slabs");
        Result = new ChaosResult(options.Cycles, readStalls, writeStalls, [.. rejoins.Select(r => r.Ms)], workload.Writes, lost, workload.BadReads);
        return lost == 0 && workload.BadReads == 0 ? 0 : 1;
    }

    private static string Percentiles(List<double> values)
    {
        if (values.Count == 0)
        {
            return "n/a";
        }

        double[] sorted = [.. values.Order()];
        double At(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        return $"p50 {At(50),7:F1} ms, p99 {At(99),7:F1} ms, max {sorted[^1],7:F1} ms";
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}");
        }
    }

    [GeneratedRegex(@"copied (\d+) slabs \(\d+ slot images\) from the primary in ([0-9.]+) ms")]
    private static partial Regex CopiedSlabs();
}
