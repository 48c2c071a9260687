using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster node's view of the cluster map (<c>serve --cluster --pair</c>): which hash slots its pair owns, who
/// owns the others and who their primaries are, kept current by a watch of the cluster's prefix in etcd (its events' values). The
/// two-sided path asks it about each key; every node answers CLUSTER_MAP from it. During an etcd outage the
/// last map seen stays in force: a slot moves only through a fence that the map sets first (copy, then handoff),
/// so a node cut off from etcd at worst keeps a fence up, never serves a slot it gave away (docs/scale-out.md).
/// </summary>
internal sealed partial class ClusterGate : IAsyncDisposable
{
    private readonly ClusterDirectory _directory;
    private readonly string _pairId;

    // Whether every pair's primary must be known: only RESP's MOVED and CLUSTER answers name them to clients.
    private readonly bool _fillLeaders;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstMap = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WriteDrain _drain = new();
    private volatile ClusterView? _view;
    private Task _watch = Task.CompletedTask;
    private string? _lastProblem;

    public ClusterGate(CoordinatorOptions coordinator, bool servesResp, ILogger logger)
    {
        _fillLeaders = servesResp;
        _directory = new ClusterDirectory(coordinator.EndPoints, coordinator.Cluster!, coordinator.RequestTimeout * 2);
        _pairId = coordinator.PairName;
        _logger = logger;
    }

    /// <summary>The map in force, or null before the first one.</summary>
    public ClusterMap? Map => _view?.Map;

    /// <summary>This node's pair id.</summary>
    public string PairId => _pairId;

    /// <summary>The view in force (the map, the pairs' primaries), or null before the first map.</summary>
    public ClusterView? View => _view;

    /// <summary>Starts the watch and waits until etcd has a map for this cluster (logging once while it has none).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = _directory.WatchAsync(OnSnapshot, OnProblem, TimeSpan.FromSeconds(10), _stopping.Token, _pairId, _fillLeaders);
        using CancellationTokenRegistration _ = cancellationToken.Register(() => _firstMap.TrySetCanceled(cancellationToken));
        await _firstMap.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Counts a write in before its check (<see cref="MayWrite"/>), so that a slot's export waits for it
    /// (<see cref="WriteDrain"/>); <see cref="ExitWrite"/> once its entry is in the store or it was refused.
    /// </summary>
    public int EnterWrite() => _drain.Enter();

    /// <summary>Counts a write out (see <see cref="EnterWrite"/>).</summary>
    public void ExitWrite(int token) => _drain.Exit(token);

    /// <summary>
    /// Waits until no write that passed its check under a view older than the current one is still on its way into
    /// the store: what an export or retire then reads of a fenced slot is final.
    /// </summary>
    public void DrainWrites() => _drain.Drain();

    /// <summary>
    /// Whether a write of <paramref name="key"/> may run here: this node's pair owns its slot and the slot is not
    /// moving (copy and handoff fence writes). Call between <see cref="EnterWrite"/> and <see cref="ExitWrite"/>.
    /// </summary>
    public bool MayWrite(ReadOnlySpan<byte> key, out int slot)
    {
        slot = HashSlot.Of(key);
        ClusterView? view = _view;
        return view is not null && view.Map.OwnerIndex(slot) == view.MyIndex && view.Map.MigrationOf(slot, out _) == MigrationPhase.None;
    }

    /// <summary>Whether a read of <paramref name="key"/> may be served here: owned by this pair and not in handoff.</summary>
    public bool MayRead(ReadOnlySpan<byte> key, out int slot)
    {
        slot = HashSlot.Of(key);
        ClusterView? view = _view;
        return view is not null && view.Map.OwnerIndex(slot) == view.MyIndex && view.Map.MigrationOf(slot, out _) != MigrationPhase.Handoff;
    }

    /// <summary>
    /// Whether the view in force was read from etcd after this node claimed its pair's lead under
    /// <paramref name="epoch"/> (etcd names it leader at that epoch). A new primary takes writes only then: a map
    /// published before its claim (a fence) is in its view before its first write, so a failover in the middle of a
    /// move cannot let a write of a fenced slot in.
    /// </summary>
    public bool LeadsUnder(ulong epoch)
    {
        ClusterView? view = _view;
        return view is not null && view.MyIndex >= 0 && view.Epochs[view.MyIndex] == epoch;
    }

    /// <summary>
    /// The Moved reply's text for a key of <paramref name="slot"/>: names the owner, or, for a slot of this pair that
    /// is moving, the pair it moves to; with the version of the map in force (a client holding it waits and retries).
    /// </summary>
    public string RedirectFor(int slot)
    {
        ClusterView view = _view!;
        int owner = view.Map.OwnerIndex(slot);
        int named = owner == view.MyIndex && view.Map.MigrationOf(slot, out int target) != MigrationPhase.None ? target : owner;
        return new Redirect(slot, view.Primaries[named], view.Map.Pairs[named].Id, view.Map.Version).ToString();
    }

    /// <summary>Answers CLUSTER_MAP: the whole map, or "unchanged" when the caller has this version already.</summary>
    public void DescribeMap(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ClusterMapMessages.TryReadRequest(payload, out ulong known) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.ClusterMap, requestId, WireStatus.MalformedFrame, $"CLUSTER_MAP payload must be {ClusterMapMessages.RequestSize} bytes: the map version the caller has");
            return;
        }

        ClusterView view = _view!;
        if (known == view.Map.Version)
        {
            ClusterMapMessages.WriteUnchanged(connection.BeginPost(Opcode.ClusterMap | Opcode.ReplyBit, WireStatus.Ok, requestId, ClusterMapMessages.HeaderSize), view.Map.Version);
        }
        else
        {
            view.Encoded.CopyTo(connection.BeginPost(Opcode.ClusterMap | Opcode.ReplyBit, WireStatus.Ok, requestId, view.Encoded.Length));
        }

        connection.EndPost();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _watch.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _directory.Dispose();
        _stopping.Dispose();
    }

    private void OnSnapshot(ClusterSnapshot snapshot)
    {
        if (_lastProblem is not null)
        {
            _lastProblem = null;
            LogEtcdBack();
        }

        if (snapshot.Map is not { } map)
        {
            if (_view is null && !_firstMap.Task.IsCompleted)
            {
                LogWaitingForMap(_directory.Cluster);
            }

            return;
        }

        ClusterView? old = _view;
        if (old is not null && map.Version < old.Map.Version)
        {
            // etcd never goes back; an older read is one that raced a newer one.
            return;
        }

        var primaries = new IPEndPoint?[map.Pairs.Count];
        var epochs = new ulong[map.Pairs.Count];
        for (int i = 0; i < primaries.Length; i++)
        {
            if (snapshot.Leaders.TryGetValue(map.Pairs[i].Id, out (IPEndPoint EndPoint, ulong Epoch) leader))
            {
                (primaries[i], epochs[i]) = leader;
            }
        }

        // A leader's change keeps the map (the same decoded object): its CLUSTER_MAP reply stays as encoded.
        byte[] encoded = old is not null && ReferenceEquals(old.Map, map) ? old.Encoded : EncodeReply(map);

        _view = new ClusterView(map, map.IndexOf(_pairId), primaries, epochs, encoded);
        if (old is null || old.Map.Version != map.Version)
        {
            int index = map.IndexOf(_pairId);
            if (index < 0)
            {
                LogNotInMap(map.Version, _pairId);
            }
            else
            {
                LogMap(map.Version, _pairId, map.SlotsOf(_pairId), map.Pairs.Count);
            }
        }

        _firstMap.TrySetResult();
    }

    private static byte[] EncodeReply(ClusterMap map)
    {
        var encoded = new byte[ClusterMapMessages.ReplySize(map)];
        ClusterMapMessages.WriteReply(encoded, map);
        return encoded;
    }

    private void OnProblem(string problem)
    {
        if (problem != _lastProblem)
        {
            _lastProblem = problem;
            LogEtcdProblem(problem);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "cluster map version {Version}: pair {Pair} owns {Slots} of 16384 slots ({Pairs} pairs)")]
    private partial void LogMap(ulong version, string pair, int slots, int pairs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cluster map version {Version} does not list pair {Pair}: every key is redirected")]
    private partial void LogNotInMap(ulong version, string pair);

    [LoggerMessage(Level = LogLevel.Information, Message = "waiting for the map of cluster {Cluster} in etcd (mirrorkv cluster create writes one; cluster up does for a local cluster)")]
    private partial void LogWaitingForMap(string cluster);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot read the cluster map from etcd ({Problem}): serving by the last map seen")]
    private partial void LogEtcdProblem(string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd answers again: the cluster map is watched")]
    private partial void LogEtcdBack();
}
