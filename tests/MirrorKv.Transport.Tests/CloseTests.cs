using System.Net.Sockets;
using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// How connections end, on every backend: a close after flush sends everything first, an abort closes at once,
/// each end's handler hears of a close exactly once, an error frame precedes its close, and a disposed listener
/// accepts nothing new while its connections go on.
/// </summary>
public class CloseTests
{
    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task CloseAfterFlush_DeliversEverythingPostedFirst_ThenThePeerSeesACleanClose(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        for (ulong id = 1; id <= 300; id++)
        {
            h.Client.Post(Opcode.Read, WireStatus.Ok, id, BitConverter.GetBytes(id));
        }

        // No Flush: closing after flush must send what is posted.
        h.Client.CloseAfterFlush();
        await h.Server.WaitClosedAsync();
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (ulong)i), h.Server.Frames.Select(f => f.Header.RequestId));
        Assert.Null(h.Server.CloseError);
        await h.ClientHandler.WaitClosedAsync();
        Assert.False(h.Client.IsOpen);
        Assert.Throws<ConnectionClosedException>(() => h.Client.Post(Opcode.Read, WireStatus.Ok, 301, []));
        Assert.Equal((1, 1), (h.Server.Closes, h.ClientHandler.Closes));
    }

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task Abort_ClosesAtOnce_AndEachEndHearsOfItOnce(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        h.Client.Abort(new ConnectionClosedException("test abort"));
        Assert.False(h.Client.IsOpen);
        Assert.Throws<ConnectionClosedException>(() => h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []));

        await h.Server.WaitClosedAsync();
        await h.ClientHandler.WaitClosedAsync();
        Assert.False(h.ServerConnection!.IsOpen);

        // Aborting the end that is already closed is no second close.
        h.ServerConnection.Abort(null);
        h.Client.Abort(null);
        Assert.Equal((1, 1), (h.Server.Closes, h.ClientHandler.Closes));
    }

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task BothEndsClosingAtOnce_EachHandlerHearsOfItOnce(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        using var start = new Barrier(2);
        await Task.WhenAll(
            Task.Run(() => { start.SignalAndWait(); h.Client.Abort(null); }),
            Task.Run(() => { start.SignalAndWait(); h.ServerConnection!.Abort(null); }));
        await h.Server.WaitClosedAsync();
        await h.ClientHandler.WaitClosedAsync();
        Assert.Equal((1, 1), (h.Server.Closes, h.ClientHandler.Closes));
    }

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task Fail_SendsTheErrorFrame_ThenCloses(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        h.ServerConnection!.Fail(WireStatus.MalformedFrame, "the test says no");
        await h.ClientHandler.WaitClosedAsync();
        FrameRecord error = Assert.Single(h.ClientHandler.Frames);
        Assert.Equal((Opcode.Error, WireStatus.MalformedFrame), (error.Header.Opcode, error.Header.Status));
        Assert.Equal("the test says no", ErrorText.Read(error.Payload));
        Assert.False(h.ServerConnection!.IsOpen);
    }

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task DisposedListener_RefusesNewConnections_WhileItsOpenOnesGoOn(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        await h.StopListeningAsync();
        await Assert.ThrowsAsync<SocketException>(async () => await h.Transport.ConnectAsync(h.Listener.LocalEndPoint, new RecordingHandler(), CancellationToken.None));

        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, [1]);
        h.Client.Flush();
        await h.Server.WaitForFramesAsync(1);
        h.ServerConnection!.Post(Opcode.Read, WireStatus.Ok, 2, [2]);
        h.ServerConnection!.Flush();
        await h.ClientHandler.WaitForFramesAsync(1);
        Assert.Equal(2UL, h.ClientHandler.Frames.Single().Header.RequestId);
        Assert.True(h.Client.IsOpen && h.ServerConnection.IsOpen);
    }
}
