using System.Runtime.InteropServices;

namespace MirrorKv.Cli.Serve;

/// <summary>
/// Keeps glibc's malloc from holding on to memory it has freed: a node process sets this before anything else.
/// </summary>
/// <remarks>
/// By default glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB) and its trim
/// threshold to twice that, so after the runtime and the host free a few large blocks at start, freed memory of up
/// to 64 MiB per arena stays resident for good. An idle node held about 25 MB that way (measured with
/// <c>mirrorkv bench --memory</c>: 86 MB, 61 MB with <c>MALLOC_TRIM_THRESHOLD_=65536</c>). Setting the thresholds
/// fixes them at glibc's defaults and turns that adjustment off; it costs an mmap and munmap per native block of
/// 128 KiB or more, which the node allocates only when it registers a chunk. The managed heap is the GC's and
/// does not go through malloc. On a C library without <c>mallopt</c> (musl) this does nothing.
/// </remarks>
internal static partial class NativeHeap
{
    private const int TrimThresholdOption = -1; // M_TRIM_THRESHOLD
    private const int MmapThresholdOption = -3; // M_MMAP_THRESHOLD
    private const int DefaultThreshold = 128 * 1024;

    /// <summary>Fixes malloc's trim and mmap thresholds at 128 KiB; false when the C library does not take them.</summary>
    public static bool KeepSmall()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SetOption(TrimThresholdOption, DefaultThreshold) == 1 & SetOption(MmapThresholdOption, DefaultThreshold) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int SetOption(int option, int value);
}
