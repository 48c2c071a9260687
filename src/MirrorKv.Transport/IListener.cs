using System.Net;

namespace MirrorKv.Transport;

/// <summary>A listening endpoint. Disposing stops accepting; open connections stay open.</summary>
public interface IListener : IAsyncDisposable
{
    /// <summary>Where it listens (with the real port when port 0 was asked for).</summary>
    EndPoint LocalEndPoint { get; }
}
