using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MirrorKv.Memory;

/// <summary>
/// Unpredictable bytes for rkeys and incarnations, from the kernel's generator (<c>getrandom(2)</c>) on Linux.
/// <see cref="RandomNumberGenerator"/> would do as well, but on Linux it loads OpenSSL's libcrypto and the runtime's
/// cryptography assembly, 5 MB of resident memory an idle node does not otherwise need (a handshake's HMAC loads
/// them when a client first authenticates). Elsewhere, or on a kernel without the call, it is what is used.
/// </summary>
public static unsafe partial class SecureRandom
{
    private const int EIntr = 4;

    /// <summary>Fills <paramref name="destination"/> with bytes from a cryptographically secure generator.</summary>
    public static void Fill(Span<byte> destination)
    {
        if (OperatingSystem.IsLinux() && TryGetRandom(destination))
        {
            return;
        }

        FillPortably(destination);
    }

    /// <summary>A random 64-bit value from <see cref="Fill"/>.</summary>
    public static ulong NextUInt64()
    {
        ulong value;
        Fill(new Span<byte>(&value, sizeof(ulong)));
        return value;
    }

    // Apart, so that compiling Fill does not load the cryptography assembly on Linux.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FillPortably(Span<byte> destination) => RandomNumberGenerator.Fill(destination);

    private static bool TryGetRandom(Span<byte> destination)
    {
        try
        {
            fixed (byte* start = destination)
            {
                int done = 0;
                while (done < destination.Length)
                {
                    // Flags 0: the urandom pool, blocking only until it was first seeded at boot. Requests of up to
                    // 256 bytes are never cut short; longer ones may be, and a signal may interrupt one: ask again.
                    nint got = GetRandom(start + done, (nuint)(destination.Length - done), 0);
                    if (got < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == EIntr)
                        {
                            continue;
                        }

                        return false;
                    }

                    done += (int)got;
                }
            }

            return true;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static partial nint GetRandom(byte* buffer, nuint length, uint flags);
}
