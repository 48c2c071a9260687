using System.Globalization;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// What <c>cluster-sim</c> runs: <c>--pairs P</c> (2 members each), <c>--etcd URL</c> (default: an etcd of its own from
/// PATH), <c>--changes K</c> map changes for the watchers (each waited for up to <c>--change-limit</c> seconds; the watchers started
/// <c>--start-rate</c> a second, or all at once), <c>--seconds S</c> per lease measurement, and for the real
/// nodes <c>--node-pairs</c> (at most this many pairs of nodes; 0: none), <c>--keys N</c>, <c>--move-slots M</c>,
/// <c>--workers W</c> and <c>--memory-keys</c>.
/// </summary>
internal sealed record ClusterSimOptions
{
    public int Pairs { get; init; } = 100;

    public Uri? Etcd { get; init; }

    /// <summary>Map changes published for the watchers: a rebalance's maps, three per batch of 64 slots.</summary>
    public int Changes { get; init; } = 6;

    /// <summary>How long one map change (or the first read, or a failover's step) may take to reach every watcher before the run goes on without the rest (counted as missed).</summary>
    public int ChangeLimitSeconds { get; init; } = 300;

    /// <summary>
    /// Watchers started per second (a rolling start: each node reads the prefix once as it starts); 0 starts them all
    /// at once, as a whole cluster powered on together.
    /// </summary>
    public int StartRate { get; init; }

    /// <summary>Whether the watched nodes serve RESP (<c>--resp yes|no</c>): then each fills in every pair's leader after the map.</summary>
    public bool Resp { get; init; } = true;

    /// <summary>Seconds of each lease measurement (renewals alone, then with the secondaries' in-sync reads).</summary>
    public double Seconds { get; init; } = 5;

    /// <summary>
    /// Most pairs of real nodes for the redirection and memory runs: 100 by default, two nodes per pair in this process
    /// (each with its heartbeats, and its etcd lease renewals and watch), the most that fits beside the rest on two cores.
    /// </summary>
    public int NodePairs { get; init; } = 100;

    /// <summary>Keys the client writes before the move and reads and writes after it.</summary>
    public int Keys { get; init; } = 20_000;

    /// <summary>Slots 0..M-1 move to the last pair.</summary>
    public int MoveSlots { get; init; } = 1024;

    /// <summary>Concurrent callers of the client after the move.</summary>
    public int Workers { get; init; } = 8;

    /// <summary>Keys whose pointers each client keeps for the memory figure.</summary>
    public int MemoryKeys { get; init; } = 200_000;

    /// <summary>Parses the arguments after <c>cluster-sim</c>; throws <see cref="ArgumentException"/> naming a bad one.</summary>
    public static ClusterSimOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ClusterSimOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string value = i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            options = name switch
            {
                "--pairs" => options with { Pairs = Int(name, value, 1) },
                "--etcd" => options with { Etcd = Uri.TryCreate(value, UriKind.Absolute, out Uri? url) ? url : throw new ArgumentException($"--etcd {value} is not a URL") },
                "--changes" => options with { Changes = Int(name, value, 1) },
                "--change-limit" => options with { ChangeLimitSeconds = Int(name, value, 1) },
                "--start-rate" => options with { StartRate = Int(name, value, 0) },
                "--resp" => options with { Resp = value switch { "yes" => true, "no" => false, _ => throw new ArgumentException($"--resp must be yes or no; got {value}") } },
                "--seconds" => options with { Seconds = Int(name, value, 1) },
                "--node-pairs" => options with { NodePairs = Int(name, value, 0) },
                "--keys" => options with { Keys = Int(name, value, 1) },
                "--move-slots" => options with { MoveSlots = Int(name, value, 1) },
                "--workers" => options with { Workers = Int(name, value, 1) },
                "--memory-keys" => options with { MemoryKeys = Int(name, value, 1) },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        return options.MoveSlots > Protocol.HashSlot.Count ? throw new ArgumentException($"--move-slots is at most {Protocol.HashSlot.Count}") : options;
    }

    private static int Int(string name, string value, int min) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out int n) && n >= min ? n : throw new ArgumentException($"{name} must be a whole number of at least {min}; got {value}");
}
