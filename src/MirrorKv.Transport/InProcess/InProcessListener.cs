using System.Net;

namespace MirrorKv.Transport.InProcess;

/// <summary>A listening endpoint on an <see cref="InProcessNetwork"/>.</summary>
internal sealed class InProcessListener(InProcessNetwork network, IPEndPoint endPoint, ConnectionHandler handler) : IListener
{
    public EndPoint LocalEndPoint { get; } = endPoint;

    public ConnectionHandler Handler { get; } = handler;

    public ValueTask DisposeAsync()
    {
        network.StopListening(this);
        return ValueTask.CompletedTask;
    }
}
