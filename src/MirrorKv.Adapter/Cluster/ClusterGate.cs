using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster node's view of the cluster map (<c>serve --cluster --pair</c>): which hash slots its pair owns, who
/// owns the others and who their primaries are, kept current by a watch of the cluster's prefix in etcd. The
/// two-sided path asks it about each key; every node answers CLUSTER_MAP from it. During an etcd outage the
/// last map seen stays in force (slice 1 moves no slot, so it cannot be wrong; moves will fence a slot first).
/// </summary>
internal sealed partial class ClusterGate : IAsyncDisposable
{
    private readonly ClusterDirectory _directory;
    private readonly string _pairId;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstMap = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile View? _view;
    private Task _watch = Task.CompletedTask;
    private string? _lastProblem;

    public ClusterGate(CoordinatorOptions coordinator, ILogger logger)
    {
        _directory = new ClusterDirectory(coordinator.Endpoints, coordinator.Cluster!, coordinator.RequestTimeout * 2);
        _pairId = coordinator.PairName;
        _logger = logger;
    }

    /// <summary>The map in force, or null before the first one.</summary>
    public ClusterMap? Map => _view?.Map;

    /// <summary>This node's pair id.</summary>
    public string PairId => _pairId;

    /// <summary>Starts the watch and waits until etcd has a map for this cluster (logging once while it has none).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = _directory.WatchAsync(OnSnapshot, OnProblem, TimeSpan.FromSeconds(10), _stopping.Token);
        using CancellationTokenRegistration _ = cancellationToken.Register(() => _firstMap.TrySetCanceled(cancellationToken));
        await _firstMap.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Whether this node's pair owns <paramref name="key"/>'s slot; <paramref name="slot"/> is the slot either way.
    /// Runs on receive threads for every two-sided request: one CRC16 and one array read.
    /// </summary>
    public bool Owns(ReadOnlySpan<byte> key, out int slot)
    {
        slot = HashSlot.Of(key);
        View? view = _view;
        return view is not null && view.Map.OwnerIndex(slot) == view.MyIndex;
    }

    /// <summary>The Moved reply's text for a key of <paramref name="slot"/>, naming the owner and the map version.</summary>
    public string RedirectFor(int slot)
    {
        View view = _view!;
        int owner = view.Map.OwnerIndex(slot);
        return new Redirect(slot, view.Primaries[owner], view.Map.Pairs[owner].Id, view.Map.Version).ToString();
    }

    /// <summary>Answers CLUSTER_MAP: the whole map, or "unchanged" when the caller has this version already.</summary>
    public void DescribeMap(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ClusterMapMessages.TryReadRequest(payload, out ulong known) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.ClusterMap, requestId, WireStatus.MalformedFrame, $"CLUSTER_MAP payload must be {ClusterMapMessages.RequestSize} bytes: the map version the caller has");
            return;
        }

        View view = _view!;
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

        View? old = _view;
        if (old is not null && map.Version < old.Map.Version)
        {
            // etcd never goes back; an older read is one that raced a newer one.
            return;
        }

        var primaries = new IPEndPoint?[map.Pairs.Count];
        for (int i = 0; i < primaries.Length; i++)
        {
            primaries[i] = snapshot.PrimaryOf(map.Pairs[i].Id);
        }

        var encoded = new byte[ClusterMapMessages.ReplySize(map)];
        ClusterMapMessages.WriteReply(encoded, map);
        _view = new View(map, map.IndexOf(_pairId), primaries, encoded);
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

    private void OnProblem(string problem)
    {
        if (problem != _lastProblem)
        {
            _lastProblem = problem;
            LogEtcdProblem(problem);
        }
    }

    /// <summary>One map with what a node derives from it; replaced whole, never changed.</summary>
    private sealed record View(ClusterMap Map, int MyIndex, IPEndPoint?[] Primaries, byte[] Encoded);

    [LoggerMessage(Level = LogLevel.Information, Message = "cluster map version {Version}: pair {Pair} owns {Slots} of 16384 slots ({Pairs} pairs)")]
    private partial void LogMap(ulong version, string pair, int slots, int pairs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cluster map version {Version} does not list pair {Pair}: every key is redirected")]
    private partial void LogNotInMap(ulong version, string pair);

    [LoggerMessage(Level = LogLevel.Information, Message = "waiting for the map of cluster {Cluster} in etcd (mirrorkv cluster up writes one)")]
    private partial void LogWaitingForMap(string cluster);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot read the cluster map from etcd ({Problem}): serving by the last map seen")]
    private partial void LogEtcdProblem(string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd answers again: the cluster map is watched")]
    private partial void LogEtcdBack();
}
