using System.Net;
using MirrorKv.Transport.InProcess;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// One connection on a chosen backend ("tcp": the epoll event loops where they run, "tcp-engine": the runtime's
/// socket engine, "inprocess"), with a recording handler at each end.
/// </summary>
internal sealed class Harness : IAsyncDisposable
{
    public static readonly IPAddress ServerAddress = IPAddress.Parse("127.0.0.31");
    public static readonly IPAddress ClientAddress = IPAddress.Parse("127.0.0.32");

    private bool _stopped;

    public RecordingHandler Server { get; } = new();

    public RecordingHandler ClientHandler { get; } = new();

    public InProcessNetwork? Network { get; private set; }

    public ITransport Transport { get; private set; } = null!;

    public IListener Listener { get; private set; } = null!;

    public IConnection Client { get; private set; } = null!;

    public IConnection? ServerConnection { get; private set; }

    public static ITransport Tcp(string backend) =>
        backend == "tcp" ? new TcpTransport() : new TcpTransport(new TcpTransportOptions { EventLoops = 0 });

    public static async Task<Harness> StartAsync(string backend, Action<IConnection>? onOpened = null)
    {
        var h = new Harness();
        h.Server.OnOpenedHook = onOpened;
        ITransport serverTransport;
        EndPoint endPoint;
        if (backend is "tcp" or "tcp-engine")
        {
            serverTransport = h.Transport = Tcp(backend);
            endPoint = new IPEndPoint(IPAddress.Loopback, 0);
        }
        else
        {
            h.Network = new InProcessNetwork();
            serverTransport = h.Network.CreateTransport(ServerAddress);
            h.Transport = h.Network.CreateTransport(ClientAddress);
            endPoint = new IPEndPoint(ServerAddress, 9000);
        }

        h.Listener = serverTransport.Listen(endPoint, h.Server);
        h.Client = await h.Transport.ConnectAsync(h.Listener.LocalEndPoint, h.ClientHandler, CancellationToken.None);
        h.ServerConnection = await Waits.ForAsync(h.Server.Opened.Task, "the server side of the connection to open");
        return h;
    }

    /// <summary>Disposes the listener (once, whether the test or the harness asks first).</summary>
    public async Task StopListeningAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await Listener.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Abort(null);
        ServerConnection?.Abort(null);
        await StopListeningAsync();
    }
}
