"""One `APIRouter` per noun."""
