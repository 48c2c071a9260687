using System.Net.Sockets;

namespace MirrorKv.Transport.Sockets;

/// <summary>
/// How a TCP connection's socket is closed, whichever backend serves it (the runtime's socket engine or an epoll
/// loop): below both, so that neither names the other.
/// </summary>
internal static class SocketClose
{
    /// <summary>Shutdown first, for a FIN rather than a reset, then close.</summary>
    public static void ShutdownAndDispose(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer: closing is all that is left.
        }
        catch (ObjectDisposedException)
        {
        }

        socket.Dispose();
    }
}
