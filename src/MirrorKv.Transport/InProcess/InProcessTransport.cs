using System.Net;

namespace MirrorKv.Transport.InProcess;

/// <summary>The in-process backend, bound to one node's address on an <see cref="InProcessNetwork"/>.</summary>
internal sealed class InProcessTransport(InProcessNetwork network, IPAddress localAddress) : ITransport
{
    public ValueTask<IConnection> ConnectAsync(EndPoint endPoint, IFrameHandler handler, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IConnection>(network.Connect(localAddress, endPoint, new ConnectionHandler(handler), FrameLayout.DefaultMaxFrameSize));
    }

    public IListener Listen(EndPoint endPoint, IFrameHandler handler) => network.Listen((IPEndPoint)endPoint, new ConnectionHandler(handler));

    public IListener ListenStream(EndPoint endPoint, IStreamHandler handler) => network.Listen((IPEndPoint)endPoint, new ConnectionHandler(handler));
}
