using MirrorKv.Protocol;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The node's role and the epoch it belongs to, changed only through <see cref="TransitionTo"/>, which
/// checks that the move is legal, logs it once with its reason, and raises <see cref="Changed"/>. Readers
/// take one consistent (role, epoch) pair from <see cref="Current"/>.
/// </summary>
/// <remarks>
/// The legal moves (anything else is a bug and throws):
/// <code>
/// Rejoining -> Secondary            caught up (copied every slab)
/// Secondary -> Promoting -> Primary under a higher epoch (epoch + 1; with a coordinator, the one etcd grants)
/// Primary   -> Fenced               lease ran out, or a newer epoch was seen
/// Primary   -> Promoting -> Primary under epoch + 1, alone: a node started as primary at its lost secondary's
///                                   endpoint serves under its epoch (pair mode; see MirrorKvNode.StalePrimary.cs)
/// Fenced    -> Primary              same epoch: the lease was renewed over a link that never broke
/// Fenced    -> Promoting -> Primary under epoch + 2: the lost peer came back as a new, empty incarnation
///                                   (with a coordinator: any higher epoch etcd grants when no leader is left)
/// any       -> Stopped              shut down, or replaced by a new incarnation (healing)
/// </code>
/// A node joins a pair (as <c>Rejoining</c>) only at its start, with the epoch it learns in the handshake.
/// </remarks>
internal sealed partial class RoleMachine(NodeRole role, ulong epoch, ILogger logger, bool coordinated = false)
{
    private readonly Lock _lock = new();
    private (NodeRole Role, ulong Epoch) _current = (role, epoch);

    // The role alone, for the frame paths that only ask "am I rejoining or fenced": no lock per frame.
    private volatile NodeRole _role = role;

    /// <summary>Raised after every transition, outside the lock, with the old and the new role.</summary>
    public event Action<NodeRole, NodeRole>? Changed;

    /// <summary>The role alone, read without the lock (it may be a transition behind <see cref="Current"/>'s).</summary>
    public NodeRole Role => _role;

    public (NodeRole Role, ulong Epoch) Current
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    /// <summary>Whether <paramref name="from"/> at <paramref name="fromEpoch"/> may move to <paramref name="to"/> at <paramref name="toEpoch"/>.</summary>
    public static bool IsLegal(NodeRole from, ulong fromEpoch, NodeRole to, ulong toEpoch, bool coordinated = false) => (from, to) switch
    {
        (NodeRole.Stopped, _) => false,
        (_, NodeRole.Stopped) => toEpoch == fromEpoch,
        (NodeRole.Rejoining, NodeRole.Rejoining) => toEpoch >= fromEpoch,
        (NodeRole.Rejoining, NodeRole.Secondary) => toEpoch == fromEpoch,
        (NodeRole.Secondary, NodeRole.Promoting) => toEpoch > fromEpoch,
        (NodeRole.Promoting, NodeRole.Primary) => toEpoch == fromEpoch,
        (NodeRole.Primary, NodeRole.Fenced) => toEpoch == fromEpoch,
        (NodeRole.Primary, NodeRole.Promoting) => toEpoch == fromEpoch + 1 && !coordinated,
        (NodeRole.Fenced, NodeRole.Primary) => toEpoch == fromEpoch,
        (NodeRole.Fenced, NodeRole.Promoting) => toEpoch >= fromEpoch + 2 || toEpoch > fromEpoch && coordinated,
        _ => false,
    };

    /// <summary>Moves to (<paramref name="role"/>, <paramref name="epoch"/>); throws on an illegal move.</summary>
    public void TransitionTo(NodeRole role, ulong epoch, string reason)
    {
        NodeRole old;
        lock (_lock)
        {
            old = _current.Role;
            if (!IsLegal(old, _current.Epoch, role, epoch, coordinated))
            {
                throw new InvalidOperationException($"Illegal role transition {old} (epoch {_current.Epoch}) -> {role} (epoch {epoch}): {reason}");
            }

            LogTransition(old, _current.Epoch, role, epoch, reason);
            _current = (role, epoch);
            _role = role;
        }

        Changed?.Invoke(old, role);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "role {OldRole} (epoch {OldEpoch}) -> {NewRole} (epoch {NewEpoch}): {Reason}")]
    private partial void LogTransition(NodeRole oldRole, ulong oldEpoch, NodeRole newRole, ulong newEpoch, string reason);
}
