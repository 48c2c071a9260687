using System.Security.Cryptography;

namespace MirrorKv.Protocol;

/// <summary>
/// Challenge and response that proves knowledge of a shared secret without sending it: the node sends a
/// random 32-byte challenge in its HELLO reply (status <see cref="WireStatus.AuthRequired"/>), the caller
/// answers with AUTH carrying HMAC-SHA256(secret, "MKV1 auth" ‖ peer kind u8 ‖ challenge). A fresh challenge
/// per connection makes a recorded proof useless on another connection; binding the peer kind stops a client
/// proof from being replayed as a peer's when the two secrets are equal.
/// </summary>
public static class AuthProof
{
    /// <summary>Bytes of the challenge.</summary>
    public const int ChallengeSize = 32;

    /// <summary>Bytes of the proof (AUTH payload).</summary>
    public const int Size = 32;

    /// <summary>Shortest secret accepted: 16 bytes, 128 bits when random.</summary>
    public const int MinSecretLength = 16;

    private static ReadOnlySpan<byte> Label => "MKV1 auth"u8;

    /// <summary>
    /// The secret held in <paramref name="raw"/> (a file's or a variable's bytes) without the line ending a
    /// text editor or <c>echo</c> adds; null with a reason when what is left is shorter than
    /// <see cref="MinSecretLength"/>.
    /// </summary>
    public static byte[]? NormalizeSecret(byte[] raw, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(raw);
        int length = raw.Length;
        while (length > 0 && raw[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }

        problem = length < MinSecretLength ? $"the secret has {length} bytes; at least {MinSecretLength} are needed" : null;
        return problem is null ? raw[..length] : null;
    }

    /// <summary>A new random challenge.</summary>
    public static byte[] NewChallenge() => RandomNumberGenerator.GetBytes(ChallengeSize);

    /// <summary>Writes the proof for <paramref name="challenge"/> into <paramref name="destination"/> (32 bytes).</summary>
    public static void Compute(ReadOnlySpan<byte> secret, PeerKind kind, ReadOnlySpan<byte> challenge, Span<byte> destination)
    {
        Span<byte> message = stackalloc byte[Label.Length + 1 + ChallengeSize];
        Label.CopyTo(message);
        message[Label.Length] = (byte)kind;
        challenge[..ChallengeSize].CopyTo(message[(Label.Length + 1)..]);
        HMACSHA256.HashData(secret, message, destination);
    }

    /// <summary>True when <paramref name="proof"/> is the proof for <paramref name="challenge"/>; constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> secret, PeerKind kind, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> proof)
    {
        if (proof.Length != Size || challenge.Length != ChallengeSize)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[Size];
        Compute(secret, kind, challenge, expected);
        return CryptographicOperations.FixedTimeEquals(expected, proof);
    }
}
