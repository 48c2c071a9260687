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
                LogNotPromoting(reason, "this replica stopped following the stream earlier");
                return;
            }

            if (role == NodeRole.Rejoining || (!_link.SawProtected && !reset))
            {
                // It does not hold everything yet, or the primary never counted it as caught up (and so may have
                // gone on alone): promoting could lose writes or make two primaries. Join again instead.
                LogNotPromoting(reason, role == NodeRole.Rejoining ? "it had not copied everything yet" : "the primary never counted it as caught up");
                rejoin = true;
            }
            else
            {
                ulong next = epoch + 1;
                _role.TransitionTo(NodeRole.Promoting, next, reason);
                Store.Promote();
                Stream.StartAt(_link.AppliedLsn);
                _link.AnnounceAndClose(next, _link.AppliedLsn);
                _lease.MakeUnlimited();
                Volatile.Write(ref _secondaryEndPoint, null);
                _role.TransitionTo(NodeRole.Primary, next, $"promoted at LSN {_link.AppliedLsn}: taking writes, unprotected until a secondary joins");
            }
        }

        if (rejoin)
        {
            RequestRejoin(Options.PrimaryEndPoint);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "primary lost ({Reason}), but this node does not promote: {Why}")]
    private partial void LogNotPromoting(string reason, string why);
}
