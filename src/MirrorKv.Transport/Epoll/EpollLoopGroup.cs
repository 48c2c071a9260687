using System.Collections.Concurrent;

namespace MirrorKv.Transport.Epoll;

/// <summary>
/// Event loops shared by every transport of the process that asks for the same number of them (and so is
/// their spin time: the last value set wins). Loops are threads that live as long as the process, so
/// transports, which are not disposed, never leak them.
/// </summary>
internal sealed class EpollLoopGroup
{
    private static readonly ConcurrentDictionary<int, EpollLoopGroup> Groups = new();

    private readonly EpollLoop[] _loops;
    private int _next = -1;

    private EpollLoopGroup(int count) =>
        _loops = [.. Enumerable.Range(0, count).Select(i => new EpollLoop($"MirrorKv epoll {i + 1}/{count}"))];

    public static EpollLoopGroup Get(int count) => Groups.GetOrAdd(count, n => new EpollLoopGroup(n));

    public int SpinMicroseconds
    {
        get => _loops[0].SpinMicroseconds;
        set
        {
            foreach (EpollLoop loop in _loops)
            {
                loop.SpinMicroseconds = value;
            }
        }
    }

    /// <summary>Round robin: connections spread evenly over the loops.</summary>
    public EpollLoop Next() => _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];
}
