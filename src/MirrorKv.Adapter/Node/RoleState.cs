using MirrorKv.Protocol;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The node's role and the epoch it belongs to, changed only through <see cref="TransitionTo"/>, which logs
/// every move. Readers take one consistent (role, epoch) pair from <see cref="Current"/>.
/// </summary>
internal sealed partial class RoleState(NodeRole role, ulong epoch, ILogger logger)
{
    private readonly Lock _lock = new();
    private (NodeRole Role, ulong Epoch) _current = (role, epoch);

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

    public void TransitionTo(NodeRole role, ulong epoch, string reason)
    {
        lock (_lock)
        {
            if (epoch < _current.Epoch)
            {
                throw new InvalidOperationException($"Epochs never go back: {_current.Epoch} -> {epoch}.");
            }

            LogTransition(_current.Role, _current.Epoch, role, epoch, reason);
            _current = (role, epoch);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "role {OldRole} (epoch {OldEpoch}) -> {NewRole} (epoch {NewEpoch}): {Reason}")]
    private partial void LogTransition(NodeRole oldRole, ulong oldEpoch, NodeRole newRole, ulong newEpoch, string reason);
}
