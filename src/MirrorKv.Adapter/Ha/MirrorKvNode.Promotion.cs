using MirrorKv.Protocol;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Promotion: a caught-up secondary whose primary is gone (its link reset, silent for
/// <see cref="NodeOptions.PromoteAfter"/>, or fenced that long) takes over under epoch + 1, announcing the
/// new epoch on the link first when it is still open.
/// </summary>
public sealed partial class MirrorKvNode
{
    private void OnPrimaryLost(string reason) => OnPrimaryLost(reason, reset: false);

    // The link was closed from the primary's side. Ask the primary before reading it as death: if it still
    // answers as primary it is alive (it dropped this secondary, or the reset was not its), and this node
    // rejoins it; only a refused connection proves its process gone. With a witness, only that proof
    // lets this node revoke the primary's etcd lease; otherwise it waits for etcd to let the lease expire.
    // Off the event loop that saw the close: a refused probe completes at once, and the promotion after it
    // (cold code in a process that never promoted) would hold up that loop's FAILOVER_READs, which are
    // exactly the reads clients send while the primary is gone (measured: 11-17 ms of them at every kill).
    private void OnPrimaryReset(string reason) => _ = Task.Run(() => OnPrimaryResetAsync(reason));

    private async Task OnPrimaryResetAsync(string reason)
    {
        if (Role != NodeRole.Secondary || _link is not { Dropped: false } || _transport is null || Options.PrimaryEndPoint is null)
        {
            OnPrimaryLost(reason, reset: true);
            return;
        }

        ((NodeRole Role, ulong Epoch)? answer, bool refused) = await NodeProbe.AskOrRefusedAsync(_transport, Options.PrimaryEndPoint, Options.Secret, TimeSpan.FromMilliseconds(300), CancellationToken.None).ConfigureAwait(false);
        if (answer is { Role: NodeRole.Primary } alive && alive.Epoch == Epoch)
        {
            LogPrimaryStillServes(reason);
            RequestRejoin(Options.PrimaryEndPoint);
            return;
        }

        // With a witness only a refused connection counts as death; in pair mode, anything but a primary's answer.
        OnPrimaryLost(reason, reset: refused || (_coordinator is null && answer is not { Role: NodeRole.Primary }));
    }

    /// <param name="reason">Why, for the log.</param>
    /// <param name="reset">
    /// The link was closed by the primary's side: its process is gone, or it dropped a joining secondary. A
    /// caught-up secondary promotes then even before it heard the protected flag: a primary drops only a
    /// secondary that was still copying, and one that caught up meanwhile has every acknowledged write.
    /// </param>
    private void OnPrimaryLost(string reason, bool reset)
    {
        bool rejoin = false;
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (_link is null || role is not (NodeRole.Secondary or NodeRole.Rejoining))
            {
                return;
            }

            if (_link.Diverged)
            {
                LogNotPromoting(reason, "this secondary stopped following the stream earlier");
                return;
            }

            if (role == NodeRole.Rejoining || _link.Dropped || (!_link.SawProtected && !reset))
            {
                // It does not hold everything yet, or the primary never counted it as caught up (and so may have
                // gone on alone): promoting could lose writes or make two primaries. Join again instead.
                LogNotPromoting(reason, role == NodeRole.Rejoining ? "it had not copied everything yet" : _link.Dropped ? "the primary dropped it and goes on alone" : "the primary never counted it as caught up");
                rejoin = true;
            }
            else if (_coordinator is not null)
            {
                // With a witness, only etcd can make this node primary.
                _ = TakeOverAsync(reason, reset);
            }
            else
            {
                PromoteLocally(epoch + 1, reason);
            }
        }

        if (rejoin)
        {
            RequestRejoin(Options.PrimaryEndPoint);
        }
    }

    // Under _haLock.
    private void PromoteLocally(ulong next, string reason)
    {
        SecondaryLink link = _link!;
        _role.TransitionTo(NodeRole.Promoting, next, reason);
        Store.Promote();
        Stream.StartAt(link.AppliedLsn);
        link.AnnounceAndClose(next, link.AppliedLsn);
        _lease.MakeUnlimited();
        Volatile.Write(ref _secondaryEndPoint, null);
        _role.TransitionTo(NodeRole.Primary, next, $"promoted at LSN {link.AppliedLsn}: taking writes, unprotected until a secondary joins");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the link to the primary closed ({Reason}), but the primary still serves: rejoining it")]
    private partial void LogPrimaryStillServes(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "primary lost ({Reason}), but this node does not promote: {Why}")]
    private partial void LogNotPromoting(string reason, string why);
}
