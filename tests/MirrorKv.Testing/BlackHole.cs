using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Testing;

/// <summary>
/// An endpoint whose connections never complete, as a host behind a firewall that drops packets, or cut off, looks:
/// a listening socket that never accepts, its accept queue filled, so the kernel drops every further SYN. No root
/// needed (an iptables DROP does the same). Connections to it time out; they are neither refused nor accepted.
/// </summary>
public sealed class BlackHole : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _fillers = [];

    public BlackHole()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;

        // The queue holds backlog + 1 connections; a few more, sent without waiting, make sure it is full.
        for (int i = 0; i < 4; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            try
            {
                filler.Connect(EndPoint);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
            }

            _fillers.Add(filler);
        }
    }

    public IPEndPoint EndPoint { get; }

    public void Dispose()
    {
        foreach (Socket filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }
}
