using System.Net;

namespace MirrorKv.Transport.InProcess;

/// <summary>
/// A node's clock on the in-process network: the system's monotonic clock, with timers that stand still
/// while the node is frozen and fire once when it thaws, as a paused process's timers do.
/// </summary>
internal sealed class FreezableTime(InProcessNetwork network, IPAddress node) : TimeProvider
{
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var gated = new GatedCallback(network, node, callback, state);
        return System.CreateTimer(static s => ((GatedCallback)s!).Tick(), gated, dueTime, period);
    }

    private sealed class GatedCallback(InProcessNetwork network, IPAddress node, TimerCallback callback, object? state)
    {
        private int _deferred;

        public void Tick()
        {
            Task gate = network.WhileFrozen(node);
            if (gate.IsCompleted)
            {
                callback(state);
            }
            else if (Interlocked.Exchange(ref _deferred, 1) == 0)
            {
                // Every tick missed while frozen collapses into one, run on thaw.
                gate.ContinueWith(_ =>
                {
                    Volatile.Write(ref _deferred, 0);
                    callback(state);
                }, TaskScheduler.Default);
            }
        }
    }
}
