using System.Runtime.InteropServices;

namespace MirrorKv.Transport.Epoll;

/// <summary>The few Linux calls the event loop makes itself: epoll, and recv/send on a non-blocking socket.</summary>
internal static unsafe partial class EpollNative
{
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;

    public const int CtlAdd = 1;
    public const int CtlDel = 2;
    public const int CtlMod = 3;

    public const int EAgain = 11;
    public const int EIntr = 4;

    private const int EpollCloexec = 0x80000;
    private const int MsgNoSignal = 0x4000;
    private const int FGetFl = 3;
    private const int FSetFl = 4;
    private const int ONonBlock = 0x800;

    /// <summary>Only x86-64 Linux: its epoll_event is packed (12 bytes), which <see cref="EpollEvent"/> mirrors.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static int Create() => Check(EpollCreate1(EpollCloexec), "epoll_create1");

    public static int Control(int epoll, int operation, int fd, uint events, ulong data)
    {
        var e = new EpollEvent { Events = events, Data = data };
        return EpollCtl(epoll, operation, fd, &e) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public static int Wait(int epoll, EpollEvent* events, int max, int timeoutMs)
    {
        int n = EpollWait(epoll, events, max, timeoutMs);
        return n >= 0 ? n : Marshal.GetLastPInvokeError() == EIntr ? 0 : Check(n, "epoll_wait");
    }

    /// <summary>Bytes received, 0 at end of stream, or -errno.</summary>
    public static int Receive(int fd, byte* buffer, int length)
    {
        nint n = Recv(fd, buffer, length, 0);
        return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
    }

    /// <summary>Bytes sent, or -errno.</summary>
    public static int Send(int fd, byte* buffer, int length)
    {
        nint n = SendTo(fd, buffer, length, MsgNoSignal);
        return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
    }

    public static void SetNonBlocking(int fd)
    {
        int flags = Check(Fcntl(fd, FGetFl, 0), "fcntl");
        Check(Fcntl(fd, FSetFl, flags | ONonBlock), "fcntl");
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError(), $"{call} failed with errno {Marshal.GetLastPInvokeError()}");

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int operation, int fd, EpollEvent* e);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, EpollEvent* events, int max, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendTo(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
