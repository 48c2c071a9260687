using System.Diagnostics.CodeAnalysis;

namespace MirrorKv.Memory;

/// <summary>A remote access was refused by the access check.</summary>
public sealed class RemoteAccessException : Exception
{
    /// <summary>Creates the exception for a refused access.</summary>
    public RemoteAccessException(AccessStatus status, RemotePointer pointer)
        : base($"Remote access to {pointer} refused: {status.Describe()}.")
    {
        Status = status;
        Pointer = pointer;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public RemoteAccessException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public RemoteAccessException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with no detail.</summary>
    public RemoteAccessException() { }

    /// <summary>What failed.</summary>
    public AccessStatus Status { get; }

    /// <summary>The pointer that was refused.</summary>
    public RemotePointer Pointer { get; }

    [DoesNotReturn]
    internal static void Throw(AccessStatus status, in RemotePointer pointer) => throw new RemoteAccessException(status, pointer);
}
