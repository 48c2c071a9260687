using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>The server commands: INFO, ROLE, COMMAND, CONFIG GET, TIME.</summary>
internal sealed partial class RespHandler
{
    /// <summary>
    /// The redis version announced (HELLO, INFO): the command set served follows redis 7.2's (SET ... GET,
    /// GETDEL, EXPIRE's NX/XX/GT/LT), and clients pick their commands by this number.
    /// </summary>
    private static readonly byte[] RedisVersion = "7.2.0"u8.ToArray();

    private static readonly string MirrorKvVersion = (typeof(RespHandler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private static readonly string[] DataInfoSections = ["server", "clients", "memory", "stats", "replication", "cluster", "keyspace"];

    // A sentinel's INFO has no data sections: a client library reads its role from what is there.
    private static readonly string[] SentinelInfoSections = ["server", "clients", "sentinel"];

    private string[] InfoSections => _sentinel ? SentinelInfoSections : DataInfoSections;

    /// <summary>Primary and promoting nodes are redis's master; every other role is a replica.</summary>
    private bool IsMaster => _node.Role is NodeRole.Primary or NodeRole.Promoting;

    private void Info(RespSession session, in RespRequest request)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 1; i < request.Count; i++)
        {
            string section = Printable(request[i], 32).ToLowerInvariant();
            if (section is "all" or "everything" or "default")
            {
                wanted.UnionWith(InfoSections);
            }
            else
            {
                wanted.Add(section);
            }
        }

        if (wanted.Count == 0)
        {
            wanted.UnionWith(InfoSections);
        }

        var text = new StringBuilder();
        foreach (string section in InfoSections)
        {
            if (wanted.Contains(section))
            {
                if (text.Length > 0)
                {
                    text.Append("\r\n");
                }

                AppendInfo(text, section);
            }
        }

        session.Output.Verbatim(text.ToString());
    }

    // ROLE: ["master", offset, [[host, port, offset], ...]] or ["slave", host, port, state, offset].
    private void Role(RespSession session)
    {
        RespOutput output = session.Output;
        NodeStatus status = _node.DescribeStatus();
        if (IsMaster)
        {
            output.Array(3);
            output.Bulk("master"u8);
            output.Integer((long)status.Lsn);
            // A redis client connects to what ROLE names: the RESP port where the other node told it.
            if ((_node.PeerRespEndPoint ?? status.Peer) is { } secondary)
            {
                output.Array(1);
                output.Array(3);
                output.Bulk(secondary.Address.ToString());
                output.Bulk(secondary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                output.Bulk(((long)status.AckedLsn).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                output.Array(0);
            }

            return;
        }

        IPEndPoint? primary = _node.PeerRespEndPoint ?? status.Peer ?? _node.Options.PrimaryEndPoint;
        output.Array(5);
        output.Bulk("slave"u8);
        output.Bulk(primary?.Address.ToString() ?? "?");
        output.Integer(primary?.Port ?? 0);
        output.Bulk(_node.Role switch
        {
            NodeRole.Secondary when status.Peer is not null => "connected",
            NodeRole.Rejoining when status.Peer is not null => "sync",
            _ => "connect",
        });
        output.Integer((long)status.Lsn);
    }

    // COMMAND | COMMAND COUNT | COMMAND LIST | COMMAND INFO [name ...] | COMMAND DOCS [name ...]
    private static void Command(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        if (request.Count == 1)
        {
            output.Array(RespCommandTable.All.Count);
            foreach (RespCommandInfo command in RespCommandTable.All)
            {
                WriteCommandInfo(output, command);
            }

            return;
        }

        ReadOnlySpan<byte> sub = request[1];
        if (RespNumbers.Is(sub, "COUNT"u8) && request.Count == 2)
        {
            output.Integer(RespCommandTable.All.Count);
        }
        else if (RespNumbers.Is(sub, "LIST"u8) && request.Count == 2)
        {
            output.Array(RespCommandTable.All.Count);
            foreach (RespCommandInfo command in RespCommandTable.All)
            {
                output.Bulk(command.Name);
            }
        }
        else if (RespNumbers.Is(sub, "INFO"u8))
        {
            if (request.Count == 2)
            {
                Command(session, new RespRequest(default, default, 1));
                return;
            }

            output.Array(request.Count - 2);
            for (int i = 2; i < request.Count; i++)
            {
                if (RespCommandTable.Find(request[i]) is { } command)
                {
                    WriteCommandInfo(output, command);
                }
                else
                {
                    output.Null();
                }
            }
        }
        else if (RespNumbers.Is(sub, "DOCS"u8))
        {
            var commands = new List<RespCommandInfo>();
            for (int i = 2; i < request.Count; i++)
            {
                if (RespCommandTable.Find(request[i]) is { } command)
                {
                    commands.Add(command);
                }
            }

            if (request.Count == 2)
            {
                commands.AddRange(RespCommandTable.All);
            }

            output.Map(commands.Count);
            foreach (RespCommandInfo command in commands)
            {
                output.Bulk(command.Name);
                output.Map(4);
                output.Bulk("summary"u8);
                output.Bulk(command.Summary);
                output.Bulk("since"u8);
                output.Bulk("1.0.0"u8);
                output.Bulk("group"u8);
                output.Bulk(command.Group);
                output.Bulk("complexity"u8);
                output.Bulk(command.LastKey < 0 || command.Kind is RespCommandKind.Scan or RespCommandKind.Keys or RespCommandKind.FlushDb or RespCommandKind.Command ? "O(N)"u8 : "O(1)"u8);
            }
        }
        else
        {
            output.Error($"ERR unknown subcommand or wrong number of arguments for '{Printable(sub, 64)}'. Try COMMAND HELP.");
        }
    }

    // COMMAND INFO's ten fields (redis 7): name, arity, flags, first key, last key, step, ACL categories,
    // tips, key specifications, subcommands.
    private static void WriteCommandInfo(RespOutput output, RespCommandInfo command)
    {
        output.Array(10);
        output.Bulk(command.Name);
        output.Integer(command.Arity);
        output.Set(command.Flags.Length);
        foreach (string flag in command.Flags)
        {
            output.Simple(Encoding.ASCII.GetBytes(flag));
        }

        output.Integer(command.FirstKey);
        output.Integer(command.LastKey);
        output.Integer(command.Step);
        output.Set(0);
        output.Array(0);
        output.Array(0);
        output.Array(0);
    }

    // CONFIG GET pattern [pattern ...]: the settings clients and exporters ask for, read from the node's options.
    private void Config(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        ReadOnlySpan<byte> sub = request[1];
        if (RespNumbers.Is(sub, "GET"u8) && request.Count >= 3)
        {
            var found = new List<(string Name, string Value)>();
            foreach ((string name, string value) in ConfigValues())
            {
                for (int i = 2; i < request.Count; i++)
                {
                    if (RespGlob.IsMatch(request[i], Encoding.ASCII.GetBytes(name), ignoreCase: true))
                    {
                        found.Add((name, value));
                        break;
                    }
                }
            }

            output.Map(found.Count);
            foreach ((string name, string value) in found)
            {
                output.Bulk(name);
                output.Bulk(value);
            }
        }
        else if (RespNumbers.Is(sub, "SET"u8) || RespNumbers.Is(sub, "REWRITE"u8) || RespNumbers.Is(sub, "RESETSTAT"u8))
        {
            output.Error($"ERR CONFIG {Printable(sub, 16).ToUpperInvariant()} is not supported: a MirrorKv node is configured when it starts (mirrorkv serve)");
        }
        else
        {
            output.Error($"ERR unknown subcommand or wrong number of arguments for '{Printable(sub, 64)}'. Try CONFIG HELP.");
        }
    }

    private IEnumerable<(string Name, string Value)> ConfigValues()
    {
        string Number(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IPEndPoint? resp = _node.RespEndPoint;
        yield return ("maxmemory", Number((long)_node.Store.Options.MaxMemory));
        yield return ("maxmemory-policy", EvictionPolicyNames.Name(_node.Store.Options.Eviction));
        yield return ("maxmemory-samples", Number(StoreEngine.EvictionSamples));
        yield return ("lfu-log-factor", Number(AccessTracker.LfuLogFactor));
        yield return ("lfu-decay-time", Number((long)_node.Store.Options.LfuDecayTime.TotalMinutes));
        yield return ("databases", "1");
        yield return ("save", "");
        yield return ("appendonly", "no");
        yield return ("timeout", "0");
        yield return ("maxclients", Number(_node.Options.MaxConnections));
        yield return ("proto-max-bulk-len", Number(_limits.MaxBulkLength));
        yield return ("client-query-buffer-limit", Number(_limits.MaxRequestBytes));
        yield return ("port", Number(resp?.Port ?? 0));
        yield return ("bind", resp?.Address.ToString() ?? "");
        yield return ("replica-read-only", "yes");
        yield return ("slave-read-only", "yes");
        yield return ("cluster-enabled", _node.Cluster is null ? "no" : "yes");
        yield return ("tcp-keepalive", "0");
        yield return ("notify-keyspace-events", "");
        yield return ("io-threads", "1");
    }

    /// <summary>INFO stats' instantaneous_ops_per_sec, sampled by the guard timer.</summary>
    internal double OpsPerSecond => Volatile.Read(ref _opsPerSecond);

    private double _opsPerSecond;
    private long _sampledCommands;
    private long _sampledAt = Stopwatch.GetTimestamp();

    // On the guard timer: commands per second since the previous sample.
    private void SampleRate()
    {
        long now = Stopwatch.GetTimestamp();
        long commands = Interlocked.Read(ref _commands);
        double seconds = Stopwatch.GetElapsedTime(_sampledAt, now).TotalSeconds;
        if (seconds > 0)
        {
            Volatile.Write(ref _opsPerSecond, (commands - _sampledCommands) / seconds);
        }

        _sampledCommands = commands;
        _sampledAt = now;
    }

    // TIME: the node's wall clock, as two bulk strings (seconds, then microseconds within the second).
    private static void Time(RespSession session)
    {
        long ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        session.Output.Array(2);
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(ticks / TimeSpan.TicksPerSecond, digits, out int length);
        session.Output.Bulk(digits[..length]);
        Utf8Formatter.TryFormat(ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond, digits, out length);
        session.Output.Bulk(digits[..length]);
    }
}
