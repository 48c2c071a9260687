using System.Runtime.InteropServices;

namespace MirrorKv.Memory;

/// <summary>
/// Region memory straight from the kernel (an anonymous private mapping) on Linux. Such pages read as zeros
/// until first written, and the kernel zeroes each one when it is first touched, so a region needs no pass of
/// its own over every byte at registration: a store that grows by a 64 MiB chunk in the middle of a write
/// costs the event loop microseconds instead of the tens to hundreds of milliseconds that faulting in and
/// clearing the whole chunk took (on a fresh VM, 164 ms for 64 MiB: longer than a third of the lease).
/// The cost of zeroing moves to the writes that use the memory, in proportion to what they write.
/// </summary>
internal static unsafe partial class AnonymousPages
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    /// <summary>True where <see cref="TryMap"/> can work: Linux on x86-64 or arm64 (whose mmap flags are these).</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>
    /// Maps <paramref name="length"/> bytes of zero-filled memory whose address is a multiple of
    /// <paramref name="alignment"/> (a power of two, at least the page size), or returns null if the kernel
    /// refuses. Over-maps by the alignment and gives back the two ends, so the result is exactly as long as asked.
    /// </summary>
    public static byte* TryMap(ulong length, ulong alignment)
    {
        ulong mapped = length + alignment;
        byte* raw;
        try
        {
            raw = (byte*)Mmap(null, (nuint)mapped, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }

        if (raw == (byte*)-1 || raw == null)
        {
            return null;
        }

        ulong start = ((ulong)raw + alignment - 1) & ~(alignment - 1);
        ulong head = start - (ulong)raw;
        ulong tail = mapped - head - length;
        if (head != 0)
        {
            _ = Munmap(raw, (nuint)head);
        }

        if (tail != 0)
        {
            _ = Munmap((byte*)(start + length), (nuint)tail);
        }

        return (byte*)start;
    }

    /// <summary>Gives back memory from <see cref="TryMap"/>.</summary>
    public static void Unmap(byte* address, ulong length) => _ = Munmap(address, (nuint)length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* address, nuint length);
}
