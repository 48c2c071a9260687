using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Testing;

/// <summary>Loopback ports for tests that start listeners (or processes) of their own.</summary>
public static class Ports
{
    // Every port handed out in this process: the kernel may give a released port again at once, and a test that
    // takes two ports before it binds either (a node's listen and RESP ports) got the same one twice in CI.
    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>
    /// A loopback port nothing listens on now and not handed out before in this process: the kernel picks it and it
    /// is released at once, so that a process started next can bind it (a small race with other processes that the
    /// ephemeral range makes rare).
    /// </summary>
    public static int Free()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (s_handedOut)
            {
                if (s_handedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    /// <summary>A loopback endpoint on a <see cref="Free"/> port: to listen on, or to find nothing listening.</summary>
    public static IPEndPoint FreeEndPoint() => new(IPAddress.Loopback, Free());
}
