using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// INFO's text, in redis's format so that redis_exporter and dashboards read it: "# Section" lines, then
/// "field:value" lines, CRLF line ends, a blank line between sections. redis's field names where the meaning
/// is the same; the node's own figures under <c>mirrorkv_</c> names.
/// </summary>
internal sealed partial class RespHandler
{
    private void AppendInfo(StringBuilder text, string section)
    {
        switch (section)
        {
            case "server":
                Section(text, "Server");
                Field(text, "redis_version", "7.2.0");
                Field(text, "mirrorkv_version", MirrorKvVersion);
                Field(text, "redis_mode", _sentinel ? "sentinel" : _node.Cluster is not null ? "cluster" : "standalone");
                Field(text, "os", RuntimeInformation.OSDescription);
                Field(text, "arch_bits", IntPtr.Size * 8);
                Field(text, "multiplexing_api", "epoll");
                Field(text, "process_id", Environment.ProcessId);
                Field(text, "run_id", RunId);
                Field(text, "tcp_port", _node.RespEndPoint?.Port ?? 0);
                Field(text, "server_time_usec", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
                // The process's, as redis's: a node that rejoins after a failover is a new incarnation in the same
                // process (its run_id changes), not a restart.
                long uptime = ProcessUptimeSeconds();
                Field(text, "uptime_in_seconds", uptime);
                Field(text, "uptime_in_days", uptime / 86400);
                Field(text, "mirrorkv_native_port", _node.EndPoint.Port);
                break;
            case "sentinel":
                IPEndPoint? primary = KnownPrimaryResp();
                Section(text, "Sentinel");
                Field(text, "sentinel_masters", 1);
                Field(text, "sentinel_tilt", 0);
                Field(text, "sentinel_running_scripts", 0);
                text.Append(CultureInfo.InvariantCulture, $"master0:name={_node.Options.EffectivePairName},status={(primary is null ? "sdown" : "ok")},address={primary?.ToString() ?? "?"},slaves={(KnownSecondaryResp() is null ? 0 : 1)},sentinels=1\r\n");
                break;
            case "clients":
                Section(text, "Clients");
                Field(text, "connected_clients", _open.Count);
                Field(text, "maxclients", _node.Options.MaxConnections);
                Field(text, "blocked_clients", 0);
                Field(text, "tracking_clients", 0);
                Field(text, "mirrorkv_native_connections", _node.ConnectionCount);
                break;
            case "memory":
                StoreStats stats = _node.Store.GetStats();
                long limit = stats.MaxMemory;
                long rss = Environment.WorkingSet;
                Section(text, "Memory");
                Field(text, "used_memory", stats.MemoryUsed);
                Field(text, "used_memory_human", Human(stats.MemoryUsed));
                Field(text, "used_memory_rss", rss);
                Field(text, "used_memory_rss_human", Human(rss));
                Field(text, "maxmemory", limit);
                Field(text, "maxmemory_human", Human(limit));
                Field(text, "maxmemory_policy", EvictionPolicyNames.Name(_node.Store.Options.Eviction));
                Field(text, "mirrorkv_chunks", stats.Chunks);
                Field(text, "mirrorkv_chunk_bytes", stats.ChunkBytes);
                Field(text, "mirrorkv_slot_bytes_in_use", stats.SlotBytesInUse);
                Field(text, "mirrorkv_index_bytes", stats.IndexBytes);
                Field(text, "mirrorkv_slabs_claimed", stats.ClaimedSlabs);
                Field(text, "mirrorkv_slabs", stats.SlabCount);
                break;
            case "stats":
                Section(text, "Stats");
                Field(text, "total_connections_received", Interlocked.Read(ref _connectionsReceived));
                Field(text, "total_commands_processed", Interlocked.Read(ref _commands));
                Field(text, "instantaneous_ops_per_sec", (long)OpsPerSecond);
                Field(text, "total_net_input_bytes", Interlocked.Read(ref _bytesIn));
                Field(text, "rejected_connections", Interlocked.Read(ref _connectionsRejected));
                Field(text, "expired_keys", _node.ExpiredEntriesReaped);
                Field(text, "evicted_keys", _node.Store.Evictions);
                Field(text, "keyspace_hits", Interlocked.Read(ref _hits));
                Field(text, "keyspace_misses", Interlocked.Read(ref _misses));
                Field(text, "mirrorkv_one_sided_reads", Volatile.Read(ref _node.Counters.Reads));
                Field(text, "mirrorkv_failover_reads", Volatile.Read(ref _node.Counters.FailoverReads));
                Field(text, "mirrorkv_writes", Volatile.Read(ref _node.Counters.Writes));
                Field(text, "mirrorkv_deletes", Volatile.Read(ref _node.Counters.Deletes));
                break;
            case "replication":
                AppendReplication(text);
                break;
            case "cluster":
                Section(text, "Cluster");
                Field(text, "cluster_enabled", _node.Cluster is null ? 0 : 1);
                if (_node.Cluster?.View is { } view)
                {
                    Field(text, "mirrorkv_cluster", view.Map.Name);
                    Field(text, "mirrorkv_map_version", (long)view.Map.Version);

                    // Keyed requests refused for another pair's slot, native (Moved) and RESP (MOVED) together.
                    Field(text, "mirrorkv_redirects", Volatile.Read(ref _node.Counters.Redirects));
                }
                break;
            case "keyspace":
                Section(text, "Keyspace");
                long keys = _node.Store.GetStats().Entries;
                if (keys > 0)
                {
                    // Keys with a deadline are not counted apart: "expires" and "avg_ttl" are always 0.
                    text.Append(CultureInfo.InvariantCulture, $"db0:keys={keys},expires=0,avg_ttl=0\r\n");
                }

                break;
        }
    }

    private void AppendReplication(StringBuilder text)
    {
        NodeStatus status = _node.DescribeStatus();
        Section(text, "Replication");
        if (IsMaster)
        {
            Field(text, "role", "master");
            Field(text, "connected_slaves", status.Peer is null ? 0 : 1);
            // Where redis clients reach the secondary: its RESP port, as it told this node (else its native one).
            if (status.Peer is not null && (_node.PeerRespEndPoint ?? status.Peer) is { } secondary)
            {
                string state = _node.IsProtected ? "online" : "wait_bgsave";
                text.Append(CultureInfo.InvariantCulture, $"slave0:ip={secondary.Address},port={secondary.Port},state={state},offset={status.AckedLsn},lag=0\r\n");
            }

            Field(text, "master_failover_state", "no-failover");
        }
        else
        {
            System.Net.IPEndPoint? primary = _node.PeerRespEndPoint ?? status.Peer ?? _node.Options.PrimaryEndPoint;
            // As redis's: up once the replica is in sync with its master and follows it, not while it copies or
            // cannot vouch for its copy.
            bool up = status.Peer is not null && status.Protected;
            Field(text, "role", "slave");
            Field(text, "master_host", primary?.Address.ToString() ?? "?");
            Field(text, "master_port", primary?.Port ?? 0);
            Field(text, "master_link_status", up ? "up" : "down");
            Field(text, "master_last_io_seconds_ago", up ? 0 : -1);
            Field(text, "master_sync_in_progress", _node.Role == NodeRole.Rejoining ? 1 : 0);
            Field(text, "slave_read_repl_offset", (long)status.Lsn);
            Field(text, "slave_repl_offset", (long)status.Lsn);
            Field(text, "slave_priority", 100);
            Field(text, "slave_read_only", 1);
            Field(text, "replica_announced", 1);
            Field(text, "connected_slaves", 0);
        }

        Field(text, "master_replid", RunId);
        Field(text, "master_repl_offset", (long)status.Lsn);
        Field(text, "mirrorkv_role", _node.Role.ToString().ToLowerInvariant());
        Field(text, "mirrorkv_epoch", (long)status.Epoch);
        Field(text, "mirrorkv_protected", status.Protected ? 1 : 0);
        Field(text, "mirrorkv_acked_lsn", (long)status.AckedLsn);
        Field(text, "mirrorkv_lease_ms", status.LeaseRemaining == TimeSpan.MaxValue ? -1 : (long)status.LeaseRemaining.TotalMilliseconds);
        Field(text, "mirrorkv_replication", _node.Options.Replication.ToString().ToLowerInvariant());
    }

    private static long ProcessUptimeSeconds()
    {
        using var process = Process.GetCurrentProcess();
        return Math.Max(0, (long)(DateTime.Now - process.StartTime).TotalSeconds);
    }

    // redis's run_id and master_replid are 40 hex digits: this node's incarnation, repeated.
    private string RunId => string.Create(CultureInfo.InvariantCulture, $"{_node.Incarnation:x16}{_node.Incarnation:x16}{(uint)_node.Incarnation:x8}");

    private static void Section(StringBuilder text, string name) => text.Append("# ").Append(name).Append("\r\n");

    private static void Field(StringBuilder text, string name, string value) => text.Append(name).Append(':').Append(value).Append("\r\n");

    private static void Field(StringBuilder text, string name, long value) => text.Append(name).Append(':').Append(value.ToString(CultureInfo.InvariantCulture)).Append("\r\n");

    private static string Human(long bytes)
    {
        string[] units = ["B", "K", "M", "G", "T"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes}B" : string.Create(CultureInfo.InvariantCulture, $"{value:F2}{units[unit]}");
    }
}
