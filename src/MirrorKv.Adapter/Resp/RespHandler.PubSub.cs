using System.Net;
using System.Text;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// SUBSCRIBE and PSUBSCRIBE on the sentinel port, for the one message a redis Sentinel's clients listen to:
/// <c>+switch-master &lt;name&gt; &lt;old ip&gt; &lt;old port&gt; &lt;new ip&gt; &lt;new port&gt;</c>, published when the
/// primary this node names changes. StackExchange.Redis subscribes to it and moves its connections at once
/// instead of at its next failed command. Any channel may be subscribed; only that one is ever published.
/// </summary>
/// <remarks>
/// The node checks the primary it names every <see cref="SwitchMasterPeriod"/> rather than hooking every role
/// change: a promotion, a switchover, a rejoin under a new primary all show there, and a message 100 ms after
/// the change is still long before a client would find out from a failed command.
/// </remarks>
internal sealed partial class RespHandler
{
    private static readonly TimeSpan SwitchMasterPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly byte[] SwitchMasterChannel = "+switch-master"u8.ToArray();

    private readonly Lock _switchMasterLock = new();
    private ITimer? _switchMasterTimer;
    private IPEndPoint? _lastNamedPrimary;

    /// <summary>Sentinel port: starts watching the primary this node names, for <c>+switch-master</c>.</summary>
    public void StartSwitchMasterWatch()
    {
        _lastNamedPrimary = KnownPrimaryResp();
        _switchMasterTimer = TimeProvider.System.CreateTimer(static s => ((RespHandler)s!).CheckNamedPrimary(), this, SwitchMasterPeriod, SwitchMasterPeriod);
    }

    /// <summary>Stops the watch (the node stops).</summary>
    public void StopSwitchMasterWatch() => _switchMasterTimer?.Dispose();

    internal void CheckNamedPrimary()
    {
        IPEndPoint? now = KnownPrimaryResp();
        IPEndPoint? before;
        lock (_switchMasterLock)
        {
            // While this node names none (a promotion under way, the link down), the last one named is kept:
            // the message goes out when a primary is named again, from the one clients last knew.
            if (now is null || now.Equals(_lastNamedPrimary))
            {
                return;
            }

            before = _lastNamedPrimary;
            _lastNamedPrimary = now;
        }

        if (before is null)
        {
            return;
        }

        byte[] message = Encoding.ASCII.GetBytes($"{_node.Options.EffectivePairName} {before.Address} {before.Port} {now.Address} {now.Port}");
        foreach ((IConnection connection, RespSession session) in _open)
        {
            Publish(connection, session, SwitchMasterChannel, message);
        }
    }

    // SUBSCRIBE channel [channel ...] / PSUBSCRIBE pattern [pattern ...]: one confirmation per argument.
    private static void Subscribe(RespSession session, in RespRequest request, bool patterns)
    {
        List<byte[]> list = patterns ? session.Patterns : session.Channels;
        for (int i = 1; i < request.Count; i++)
        {
            ReadOnlySpan<byte> name = request[i];
            if (IndexOf(list, name) < 0)
            {
                list.Add(name.ToArray());
            }

            Confirm(session, patterns ? "psubscribe"u8 : "subscribe"u8, name);
        }
    }

    // UNSUBSCRIBE [channel ...] / PUNSUBSCRIBE [pattern ...]: every one when none is named; one confirmation each
    // (with a null name when there was nothing to leave), as redis answers.
    private static void Unsubscribe(RespSession session, in RespRequest request, bool patterns)
    {
        List<byte[]> list = patterns ? session.Patterns : session.Channels;
        ReadOnlySpan<byte> kind = patterns ? "punsubscribe"u8 : "unsubscribe"u8;
        if (request.Count == 1)
        {
            if (list.Count == 0)
            {
                Confirm(session, kind, default, isNull: true);
            }

            while (list.Count > 0)
            {
                byte[] name = list[^1];
                list.RemoveAt(list.Count - 1);
                Confirm(session, kind, name);
            }

            return;
        }

        for (int i = 1; i < request.Count; i++)
        {
            ReadOnlySpan<byte> name = request[i];
            int at = IndexOf(list, name);
            if (at >= 0)
            {
                list.RemoveAt(at);
            }

            Confirm(session, kind, name);
        }
    }

    private static int IndexOf(List<byte[]> list, ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (name.SequenceEqual(list[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static void Confirm(RespSession session, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> name, bool isNull = false)
    {
        RespOutput output = session.Output;
        output.Push(3);
        output.Bulk(kind);
        if (isNull)
        {
            output.Null();
        }
        else
        {
            output.Bulk(name);
        }

        output.Integer(session.Channels.Count + session.Patterns.Count);
    }

    // In subscribed mode a RESP2 connection carries messages between replies, so redis allows only the commands
    // whose replies a client can tell from a message; RESP3 marks messages as pushes and allows everything.
    private static bool AllowedWhileSubscribed(RespCommandKind kind) => kind is RespCommandKind.Subscribe or RespCommandKind.PSubscribe
        or RespCommandKind.Unsubscribe or RespCommandKind.PUnsubscribe or RespCommandKind.Ping or RespCommandKind.Quit;

    private static bool IsPubSub(RespCommandKind kind) => kind is RespCommandKind.Subscribe or RespCommandKind.PSubscribe
        or RespCommandKind.Unsubscribe or RespCommandKind.PUnsubscribe;

    // PING in RESP2 subscribed mode: ["pong", argument or ""].
    private static void SubscribedPing(RespSession session, in RespRequest request)
    {
        session.Output.Array(2);
        session.Output.Bulk("pong"u8);
        session.Output.Bulk(request.Count == 2 ? request[1] : default);
    }

    // Posts the message to a connection that listens to the channel: once as "message" if it subscribed to the
    // channel, once as "pmessage" per pattern that matches it (as redis does). Off the receive thread: under the
    // session's push lock, so that it never lands inside a reply, then flushed.
    private static void Publish(IConnection connection, RespSession session, byte[] channel, byte[] payload)
    {
        lock (session.PushLock)
        {
            if (session.Channels.Count + session.Patterns.Count == 0 || session.Closing)
            {
                return;
            }

            try
            {
                byte type = session.Output.Resp3 ? (byte)'>' : (byte)'*';
                if (IndexOf(session.Channels, channel) >= 0)
                {
                    Post(connection, type, [], channel, payload);
                }

                foreach (byte[] pattern in session.Patterns)
                {
                    if (RespGlob.IsMatch(pattern, channel))
                    {
                        Post(connection, type, pattern, channel, payload);
                    }
                }
            }
            catch (ConnectionClosedException)
            {
                return;
            }
        }

        connection.Flush();
    }

    private static void Post(IConnection connection, byte type, byte[] pattern, byte[] channel, byte[] payload)
    {
        bool isPattern = pattern.Length > 0;
        int max = RespEncoding.MaxNumberLine + RespEncoding.MaxBulk(8) + RespEncoding.MaxBulk(pattern.Length) + RespEncoding.MaxBulk(channel.Length) + RespEncoding.MaxBulk(payload.Length);
        Span<byte> span = connection.BeginPostBytes(max);
        int n = RespEncoding.Number(span, type, isPattern ? 4 : 3);
        n += RespEncoding.Bulk(span[n..], isPattern ? "pmessage"u8 : "message"u8);
        if (isPattern)
        {
            n += RespEncoding.Bulk(span[n..], pattern);
        }

        n += RespEncoding.Bulk(span[n..], channel);
        n += RespEncoding.Bulk(span[n..], payload);
        connection.EndPostBytes(n);
    }
}
