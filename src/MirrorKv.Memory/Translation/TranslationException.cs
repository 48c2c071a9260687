using System.Diagnostics.CodeAnalysis;

namespace MirrorKv.Memory;

/// <summary>A primary pointer could not be translated to a local one.</summary>
public sealed class TranslationException : Exception
{
    /// <summary>Creates the exception for a failed translation.</summary>
    public TranslationException(TranslationStatus status, RemotePointer pointer)
        : base($"Cannot translate primary pointer {pointer}: {Describe(status)}.")
    {
        Status = status;
        Pointer = pointer;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public TranslationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public TranslationException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with no detail.</summary>
    public TranslationException() { }

    /// <summary>What failed.</summary>
    public TranslationStatus Status { get; }

    /// <summary>The primary pointer.</summary>
    public RemotePointer Pointer { get; }

    /// <summary>One sentence saying what failed.</summary>
    public static string Describe(TranslationStatus status) => status switch
    {
        TranslationStatus.Ok => "translated",
        TranslationStatus.UnknownRegion => "no translation is known for this primary rkey",
        TranslationStatus.OutsideRegion => "address lies outside the primary region",
        TranslationStatus.CrossesSlab => "range crosses a slab boundary",
        TranslationStatus.UnknownSlab => "no record has landed in this primary slab yet",
        TranslationStatus.ZeroLength => "length is zero",
        _ => $"unknown translation status {(byte)status}",
    };

    [DoesNotReturn]
    internal static void Throw(TranslationStatus status, in RemotePointer pointer) => throw new TranslationException(status, pointer);
}
