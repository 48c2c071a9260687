using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>A client call failed; <see cref="Error"/> says why in a way code can act on.</summary>
public sealed class MirrorKvException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MirrorKvException(MirrorKvError error, string message, WireStatus wireStatus = WireStatus.Ok, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        WireStatus = wireStatus;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public MirrorKvException(string message) : this(MirrorKvError.Protocol, message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public MirrorKvException(string message, Exception innerException) : this(MirrorKvError.Protocol, message, WireStatus.Ok, innerException) { }

    /// <summary>Creates the exception with no detail.</summary>
    public MirrorKvException() : this(MirrorKvError.Protocol, "MirrorKv call failed.") { }

    /// <summary>Why.</summary>
    public MirrorKvError Error { get; }

    /// <summary>The node's status code, when a node answered.</summary>
    public WireStatus WireStatus { get; }

    // The one wording of "no node can serve this", for the client and its router.
    internal static MirrorKvException Unavailable(string what) => new(MirrorKvError.Unavailable, $"MirrorKv unavailable: {what}.");
}
