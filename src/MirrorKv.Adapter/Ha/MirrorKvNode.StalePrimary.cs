using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// A primary alone in pair mode keeps an eye on the endpoint of the peer it lost (its old primary, or its old
/// secondary). A node found serving there as primary under an older epoch was started as primary without asking
/// (<c>serve --role primary</c> with no <c>--peer</c>, an operator's old command line after a failover): two primaries,
/// and writes acknowledged there would be lost. It is told at once that it has been replaced (the announcement a
/// promoted secondary sends), so it fences and rejoins this node as its secondary. One found under this node's own
/// epoch (started as primary at the endpoint of this node's lost secondary, before any failover) is told the same
/// after this node moved to epoch + 1.
/// </summary>
public sealed partial class MirrorKvNode
{
    /// <summary>How often a primary alone asks its lost peer's endpoint what serves there.</summary>
    internal static readonly TimeSpan StalePrimaryCheckInterval = TimeSpan.FromMilliseconds(500);

    private long _lastStalePrimaryCheck;
    private int _stalePrimaryCheckRunning;

    /// <summary>How many times this node told a stale primary at its lost peer's endpoint that it was replaced.</summary>
    internal long StalePrimariesFenced => Volatile.Read(ref _stalePrimariesFenced);

    private long _stalePrimariesFenced;

    // From the heartbeat tick of a primary without a secondary (in pair mode: with a witness, etcd's leader key
    // already keeps a second node from serving as primary).
    private void WatchForStalePrimary(NodeRole role, ulong epoch)
    {
        if (role != NodeRole.Primary || _coordinator is not null || _transport is not { } transport || Stream.Peer is not null
            || (Volatile.Read(ref _secondaryEndPoint) ?? Options.PrimaryEndPoint ?? Options.PeerEndPoint) is not { } peer || peer.Equals(AdvertisedEndPoint))
        {
            return;
        }

        long now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Volatile.Read(ref _lastStalePrimaryCheck), now) < StalePrimaryCheckInterval
            || Interlocked.CompareExchange(ref _stalePrimaryCheckRunning, 1, 0) != 0)
        {
            return;
        }

        Volatile.Write(ref _lastStalePrimaryCheck, now);
        _ = CheckForStalePrimaryAsync(transport, peer, epoch);
    }

    private async Task CheckForStalePrimaryAsync(ITransport transport, IPEndPoint peer, ulong epoch)
    {
        try
        {
            (NodeRole Role, ulong Epoch)? answer = await NodeProbe.AskAsync(transport, peer, Options.Secret, TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
            if (answer is not { Role: NodeRole.Primary } other || other.Epoch > epoch || _role.Current != (NodeRole.Primary, epoch))
            {
                return;
            }

            if (other.Epoch == epoch)
            {
                // Under this node's own epoch, a primary can only be at the endpoint of the secondary it lost (a
                // promotion there takes epoch + 1): a node started as primary without asking, at the epoch every
                // node starts with, beside a pair that never failed over. By epoch alone neither could tell the other
                // was replaced, so this node, which holds the pair's data, moves to epoch + 1 first.
                // Or the two nodes were started as primary at once (each asked the other before it served): the one
                // with the lower endpoint moves above, so that exactly one of them does, and the other rejoins it.
                IPEndPoint? lostSecondary = Volatile.Read(ref _secondaryEndPoint);
                bool twinStart = lostSecondary is null && peer.Equals(Options.PeerEndPoint)
                    && string.CompareOrdinal(AdvertisedEndPoint.ToString(), peer.ToString()) < 0;
                if (!peer.Equals(lostSecondary) && !twinStart)
                {
                    return;
                }

                string why = twinStart
                    ? $"the pair's other node {peer} was started as primary at the same time as this one, under the same epoch {epoch}; this node's endpoint comes first: moving above it to tell it that it was replaced (writes it acknowledged meanwhile are not in this pair)"
                    : $"a node serves as primary at {peer}, the endpoint of this pair's lost secondary, under this node's epoch {epoch}: moving above it to tell it that it was replaced";
                if (!TryMoveAbove(epoch, why))
                {
                    return;
                }

                epoch++;
            }

            LogStalePrimary(peer.ToString(), other.Epoch, epoch);
            await PrimaryAnnouncement.SendAsync(transport, peer, AdvertisedEndPoint, AdvertisedRespEndPoint, Options.EffectivePeerSecret, epoch, Stream.LastLsn, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _stalePrimariesFenced);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or System.Net.Sockets.SocketException or ConnectionClosedException)
        {
            LogStalePrimaryNotTold(peer.ToString(), e.Message);
        }
        finally
        {
            Volatile.Write(ref _stalePrimaryCheckRunning, 0);
        }
    }

    // Primary -> Promoting -> Primary under epoch + 1, still alone and serving: clients that send the old epoch get
    // StaleEpoch and learn the new one, as after a failover.
    private bool TryMoveAbove(ulong epoch, string why)
    {
        lock (_haLock)
        {
            if (_role.Current != (NodeRole.Primary, epoch) || Stream.Peer is not null)
            {
                return false;
            }

            _role.TransitionTo(NodeRole.Promoting, epoch + 1, why);
            _role.TransitionTo(NodeRole.Primary, epoch + 1, $"serving at LSN {Stream.LastLsn}, alone");
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a node serves as primary at {EndPoint} under epoch {TheirEpoch}, the endpoint of this pair's lost peer, while this node is primary at epoch {Epoch}: it was started as primary without asking (no --peer); telling it that it was replaced, so that it fences and rejoins this node as secondary (writes it acknowledged alone are not in this pair)")]
    private partial void LogStalePrimary(string endPoint, ulong theirEpoch, ulong epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not tell the stale primary at {EndPoint} that it was replaced: {Reason}; asking again")]
    private partial void LogStalePrimaryNotTold(string endPoint, string reason);
}
