using System.Runtime.InteropServices;

namespace NeuronInterop;

/// <summary>
/// What a path names, where a regular file and a device, a named pipe or a socket must be told apart: a file that
/// is replaced by renaming a new one over it would put a regular file in place of <c>/dev/null</c> (as root), and a
/// named pipe opened only to check it would wait for a reader. .NET does not tell these apart.
/// </summary>
internal static partial class FileKind
{
    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a device, a named pipe or a socket.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSpecial(string path) => Type(path) is { } type && type != RegularFile && type != Folder;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a named pipe (FIFO).</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsNamedPipe(string path) => Type(path) == NamedPipe;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a socket, which cannot be opened as a file.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSocket(string path) => Type(path) == Socket;

    // The type bits of st_mode (S_IFMT) and four of their values (S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK).
    private const int TypeBits = 0xF000, RegularFile = 0x8000, Folder = 0x4000, NamedPipe = 0x1000, Socket = 0xC000;

    private static int? Type(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        // struct statx has one layout on every Linux architecture: stx_mode is the 16 bits at offset 28.
        const int currentFolder = -100;  // AT_FDCWD
        const uint typeOnly = 0x1;  // STATX_TYPE
        var status = new byte[256];
        try
        {
            return Statx(currentFolder, path, 0, typeOnly, status) == 0 ? BitConverter.ToUInt16(status, 28) & TypeBits : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;  // a C library without statx (glibc before 2.28)
        }
    }

    /// <summary>
    /// The absolute path, without symbolic links, that the system reaches for <paramref name="path"/> (an existing
    /// folder or file), or null where that cannot be told: a missing path, and systems other than Linux. Unlike
    /// <see cref="Path.GetFullPath(string)"/>, which takes "folder/.." away by text, it goes up from where a link to
    /// "folder" leads.
    /// </summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            IntPtr real = Realpath(path, IntPtr.Zero);
            if (real == IntPtr.Zero)
                return null;
            try
            {
                return Marshal.PtrToStringUTF8(real);
            }
            finally
            {
                Free(real);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int folder, string path, int flags, uint mask, byte[] status);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr Realpath(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr memory);
}
