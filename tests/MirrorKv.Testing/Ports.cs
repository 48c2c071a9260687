using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Testing;

/// <summary>Loopback ports for tests that start listeners (or processes) of their own.</summary>
public static class Ports
{
    /// <summary>
    /// A loopback port nothing listens on now: the kernel picks it and it is released at once, so that a
    /// process started next can bind it (a small race with other tests that the ephemeral range makes rare).
    /// </summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A loopback endpoint on a <see cref="Free"/> port: to listen on, or to find nothing listening.</summary>
    public static IPEndPoint FreeEndPoint() => new(IPAddress.Loopback, Free());
}
