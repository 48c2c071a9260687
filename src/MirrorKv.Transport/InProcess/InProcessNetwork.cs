using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Transport.InProcess;

/// <summary>
/// A network inside one process, for deterministic unit tests and fault injection. Nodes are told apart by
/// IP address (use 127.0.0.x, one per node); faults are commands: <see cref="Partition"/>,
/// <see cref="Heal"/>, <see cref="Crash"/>, <see cref="Freeze"/> and <see cref="Thaw"/>, <see cref="Delay"/>
/// and <see cref="DropBatches"/>.
/// </summary>
/// <remarks>
/// A partition drops batches silently, as a black-holed link does: neither side sees an error until its
/// own timeouts or heartbeats fire. A crash resets every connection of the node at once, as a killed
/// process's kernel would, and its listeners stop accepting. A freeze is a paused process (SIGSTOP, a long
/// GC pause, a VM freeze): what is sent to the node queues up, its timers (those of <see cref="TimeFor"/>)
/// do not fire, and its clock keeps running; on thaw it handles everything queued, each timer fires once.
/// </remarks>
public sealed class InProcessNetwork
{
    private readonly Lock _lock = new();
    private readonly Dictionary<EndPoint, InProcessListener> _listeners = [];
    private readonly List<InProcessConnection> _connections = [];
    private readonly HashSet<(IPAddress, IPAddress)> _partitions = [];

    // A crashed node's objects live on in this process, unlike a killed process: whatever they still try
    // to send is dropped, so that a "dead" node cannot answer anyone after its crash.
    private readonly HashSet<IPAddress> _crashed = [];
    private readonly Dictionary<IPAddress, int> _resetConnects = [];
    private readonly Dictionary<IPAddress, TaskCompletionSource> _frozen = [];
    private readonly Dictionary<(IPAddress From, IPAddress To), TaskCompletionSource> _cuts = [];
    private readonly Dictionary<(IPAddress From, IPAddress To), (long RestoredAt, TaskCompletionSource Gate)> _retransmitting = [];
    private Func<IPEndPoint, IPEndPoint, bool>? _drop;
    private int _nextEphemeralPort = 49152;

    /// <summary>One-way latency added to every batch (order is kept).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>A transport whose connections originate from <paramref name="localAddress"/>.</summary>
    public ITransport CreateTransport(IPAddress localAddress) => new InProcessTransport(this, localAddress);

    /// <summary>From now on, batches between <paramref name="a"/> and <paramref name="b"/> (both ways) vanish.</summary>
    public void Partition(IPAddress a, IPAddress b)
    {
        lock (_lock)
        {
            _partitions.Add((a, b));
            _partitions.Add((b, a));
        }
    }

    /// <summary>Removes every partition.</summary>
    public void Heal()
    {
        lock (_lock)
        {
            _partitions.Clear();
        }
    }

    /// <summary>Drops every batch for which <paramref name="predicate"/> (from, to) is true; null stops dropping.</summary>
    public void DropBatches(Func<IPEndPoint, IPEndPoint, bool>? predicate)
    {
        lock (_lock)
        {
            _drop = predicate;
        }
    }

    /// <summary>
    /// Cuts the link from <paramref name="from"/> to <paramref name="to"/> the way a TCP connection sees a
    /// black hole: nothing sent that way arrives (not even a close or a reset) until <see cref="Restore()"/> (or <see cref="Restore(IPAddress, IPAddress)"/> for this cut alone),
    /// and then everything held arrives in order, as retransmission delivers it. (<see cref="DropBatches"/>
    /// loses bytes mid-stream instead, which TCP never does.)
    /// </summary>
    public void Cut(IPAddress from, IPAddress to)
    {
        lock (_lock)
        {
            _cuts.TryAdd((from, to), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    /// <summary>Ends every <see cref="Cut"/>: what was held is delivered.</summary>
    public void Restore()
    {
        List<TaskCompletionSource> gates;
        lock (_lock)
        {
            gates = [.. _cuts.Values, .. _retransmitting.Values.Select(r => r.Gate)];
            _cuts.Clear();
            _retransmitting.Clear();
        }

        foreach (TaskCompletionSource gate in gates)
        {
            gate.TrySetResult();
        }
    }

    /// <summary>
    /// Ends every <see cref="Cut"/> as TCP sees a long one end: connections opened from now on pass at once, but
    /// what a cut held on a connection opened before (data, a close, a reset) arrives only
    /// <paramref name="retransmission"/> later, when the sender's backed-off retransmission timer fires (after a
    /// cut of 30 s, tens of seconds).
    /// </summary>
    public void Restore(TimeSpan retransmission)
    {
        long now = Stopwatch.GetTimestamp();
        List<((IPAddress, IPAddress) Key, TaskCompletionSource Gate)> gates;
        lock (_lock)
        {
            gates = [.. _cuts.Select(cut => (cut.Key, cut.Value))];
            _cuts.Clear();
            foreach (((IPAddress, IPAddress) key, TaskCompletionSource gate) in gates)
            {
                _retransmitting[key] = (now, gate);
            }
        }

        _ = Task.Delay(retransmission).ContinueWith(_ =>
        {
            lock (_lock)
            {
                foreach (((IPAddress, IPAddress) key, TaskCompletionSource gate) in gates)
                {
                    if (_retransmitting.TryGetValue(key, out var late) && late.Gate == gate)
                    {
                        _retransmitting.Remove(key);
                    }
                }
            }

            foreach (TaskCompletionSource gate in gates.Select(g => g.Gate))
            {
                gate.TrySetResult();
            }
        }, TaskScheduler.Default);
    }

    /// <summary>Ends the <see cref="Cut"/> from <paramref name="from"/> to <paramref name="to"/> only: what it held is delivered; other cuts stay.</summary>
    public void Restore(IPAddress from, IPAddress to)
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            _cuts.Remove((from, to), out gate);
        }

        gate?.TrySetResult();
    }

    /// <summary>
    /// Completes when nothing holds what <paramref name="from"/> sends to <paramref name="to"/> on a connection
    /// opened at <paramref name="openedAt"/>: not cut, not waiting for a late retransmission, and the receiver not frozen.
    /// </summary>
    internal async Task WhileHeld(IPAddress from, IPAddress to, long openedAt)
    {
        while (true)
        {
            Task gate;
            lock (_lock)
            {
                gate = _cuts.TryGetValue((from, to), out TaskCompletionSource? cut) ? cut.Task
                    : _retransmitting.TryGetValue((from, to), out var late) && openedAt < late.RestoredAt ? late.Gate.Task
                    : _frozen.TryGetValue(to, out TaskCompletionSource? frozen) ? frozen.Task
                    : Task.CompletedTask;
            }

            if (gate.IsCompleted)
            {
                return;
            }

            await gate.ConfigureAwait(false);
        }
    }

    internal bool IsCut(IPAddress from, IPAddress to, long openedAt)
    {
        lock (_lock)
        {
            return _cuts.ContainsKey((from, to)) || _retransmitting.TryGetValue((from, to), out var late) && openedAt < late.RestoredAt;
        }
    }

    /// <summary>Pauses <paramref name="node"/>: it receives nothing and its timers stand still until <see cref="Thaw"/>.</summary>
    public void Freeze(IPAddress node)
    {
        lock (_lock)
        {
            _frozen.TryAdd(node, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    /// <summary>Resumes a frozen node: it handles what queued up, and each of its timers fires once.</summary>
    public void Thaw(IPAddress node)
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            _frozen.Remove(node, out gate);
        }

        gate?.TrySetResult();
    }

    /// <summary>The clock and timers of the node at <paramref name="node"/>: real time, but its timers stop while it is frozen.</summary>
    public TimeProvider TimeFor(IPAddress node) => new FreezableTime(this, node);

    /// <summary>Completes when <paramref name="node"/> is not frozen.</summary>
    internal Task WhileFrozen(IPAddress node)
    {
        lock (_lock)
        {
            return _frozen.TryGetValue(node, out TaskCompletionSource? gate) ? gate.Task : Task.CompletedTask;
        }
    }

    /// <summary>Resets every connection to or from <paramref name="node"/> and stops its listeners.</summary>
    /// <param name="node">The node's address.</param>
    /// <param name="resetConnects">
    /// How many connections to it are reset instead of refused first: a process on its way out, whose kernel closed
    /// its connections before its listening socket, so that a connection queued on that socket is reset.
    /// </param>
    public void Crash(IPAddress node, int resetConnects = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(resetConnects);
        List<InProcessConnection> victims;
        lock (_lock)
        {
            _crashed.Add(node);
            _resetConnects[node] = resetConnects;
            victims = _connections.Where(c => c.LocalEndPoint.Address.Equals(node) || ((IPEndPoint)c.RemoteEndPoint).Address.Equals(node)).ToList();
            foreach (EndPoint endPoint in _listeners.Keys.Where(e => ((IPEndPoint)e).Address.Equals(node)).ToList())
            {
                _listeners.Remove(endPoint);
            }
        }

        foreach (InProcessConnection c in victims)
        {
            c.Abort(new ConnectionClosedException($"node {node} crashed"));
        }
    }

    internal bool ShouldDeliver(IPEndPoint from, IPEndPoint to)
    {
        lock (_lock)
        {
            return !_crashed.Contains(from.Address) && !_partitions.Contains((from.Address, to.Address)) && !(_drop?.Invoke(from, to) ?? false);
        }
    }

    internal IListener Listen(IPEndPoint endPoint, ConnectionHandler handler)
    {
        lock (_lock)
        {
            // A node listening again at a crashed address is its restart.
            _crashed.Remove(endPoint.Address);
            _resetConnects.Remove(endPoint.Address);
            if (endPoint.Port == 0)
            {
                endPoint = new IPEndPoint(endPoint.Address, _nextEphemeralPort++);
            }

            if (!_listeners.TryAdd(endPoint, new InProcessListener(this, endPoint, handler)))
            {
                throw new SocketException((int)SocketError.AddressAlreadyInUse);
            }

            return _listeners[endPoint];
        }
    }

    internal void StopListening(InProcessListener listener)
    {
        lock (_lock)
        {
            if (_listeners.TryGetValue(listener.LocalEndPoint, out InProcessListener? current) && current == listener)
            {
                _listeners.Remove(listener.LocalEndPoint);
            }
        }
    }

    /// <summary>
    /// Opens a stream connection from <paramref name="localAddress"/> to a listener of <see cref="ITransport.ListenStream"/>:
    /// a client of another protocol (a RESP client in tests), under the same faults as every connection.
    /// </summary>
    public IConnection ConnectStream(IPAddress localAddress, IPEndPoint remote, IStreamHandler handler) =>
        Connect(localAddress, remote, new ConnectionHandler(handler), FrameLayout.DefaultMaxFrameSize);

    internal InProcessConnection Connect(IPAddress localAddress, EndPoint remote, ConnectionHandler handler, uint maxFrameSize)
    {
        InProcessConnection client, server;
        InProcessListener? listener;
        lock (_lock)
        {
            if (_crashed.Contains(localAddress) || !_listeners.TryGetValue(remote, out listener) || _partitions.Contains((localAddress, ((IPEndPoint)remote).Address)))
            {
                IPAddress to = ((IPEndPoint)remote).Address;
                if (_resetConnects.TryGetValue(to, out int resets) && resets > 0 && !_crashed.Contains(localAddress))
                {
                    _resetConnects[to] = resets - 1;
                    throw new SocketException((int)SocketError.ConnectionReset);
                }

                throw new SocketException((int)SocketError.ConnectionRefused);
            }

            if (_cuts.ContainsKey((localAddress, ((IPEndPoint)remote).Address)) || _cuts.ContainsKey((((IPEndPoint)remote).Address, localAddress)))
            {
                // A SYN (or its SYN-ACK) into a black hole: TCP's connect times out.
                throw new SocketException((int)SocketError.TimedOut);
            }

            var local = new IPEndPoint(localAddress, _nextEphemeralPort++);
            client = new InProcessConnection(this, local, (IPEndPoint)remote, handler, maxFrameSize);
            server = new InProcessConnection(this, (IPEndPoint)remote, local, listener.Handler, maxFrameSize);
            client.Peer = server;
            server.Peer = client;
            _connections.Add(client);
            _connections.Add(server);
        }

        server.Start();
        client.Start();
        return client;
    }

    internal void Forget(InProcessConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection);
        }
    }
}
