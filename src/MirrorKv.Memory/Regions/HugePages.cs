using System.Runtime.InteropServices;

namespace MirrorKv.Memory;

/// <summary>
/// Asks Linux to back a region with transparent huge pages, as RDMA deployments register huge-page memory:
/// one-sided reads land on random entries across the whole region, and with 4 KiB pages nearly every one
/// of them also misses the TLB. Advice only: where huge pages are off or unavailable nothing changes.
/// </summary>
internal static unsafe partial class HugePages
{
    /// <summary>The huge page size on x86-64 and arm64 Linux; regions at least this large are aligned to it.</summary>
    public const ulong Size = 2 * 1024 * 1024;

    private const int MadviseHugePage = 14;

    public static void Advise(void* address, ulong length)
    {
        if (!OperatingSystem.IsLinux() || length < Size)
        {
            return;
        }

        try
        {
            _ = Madvise(address, (nuint)length, MadviseHugePage);
        }
        catch (EntryPointNotFoundException)
        {
            // A libc without madvise: keep the normal pages.
        }
        catch (DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
